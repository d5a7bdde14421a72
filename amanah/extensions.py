"""Extension objects, bound to the app in create_app(); every package may import them."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from amanah.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# No default limits: each sensitive route (login, password reset, donate) declares its own.
# When Redis (the shared counter store) is unreachable, each process counts in memory until it
# is back: limits stay in force per process instead of every limited POST failing. Short socket
# timeouts keep a dead Redis from stalling each request on the way there.
limiter = Limiter(key_func=get_remote_address, in_memory_fallback_enabled=True,
                  storage_options={"socket_connect_timeout": 0.5, "socket_timeout": 0.5})
