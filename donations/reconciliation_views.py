"""GET /payments/reconciliation: what reconciliation runs found, and the payment anomalies."""
from __future__ import annotations

from flask import Blueprint, render_template

from accounts.permissions import Action, permission_required
from donations import anomalies, reconciliation

bp = Blueprint("reconciliation", __name__)


@bp.get("/payments/reconciliation")
@permission_required(Action.VIEW_RECONCILIATION)
def overview():
    return render_template("donations/reconciliation.html", runs=reconciliation.recent_runs(),
                           anomalies=anomalies.recent())
