"""Organizations: who stands behind campaigns (yayasan, government bodies, businesses, community
groups, religious institutions), their members' roles, and their verification by an admin.

Below campaigns: a campaign names the organization that runs it; the organization's public page,
which lists its campaigns and their money, is served by campaigns."""
from amanah.demo import demo_loader


def init_app(app) -> None:
    from organizations import demo, models, services, views

    app.register_blueprint(views.bp)
    assert models.Organization  # part of the metadata that migrations compare
    demo_loader(order=15, name="organizations")(demo.load_demo_organizations)
    app.jinja_env.globals.update(organization_type_label=services.type_label,
                                 organization_role_label=services.role_label,
                                 format_npwp=services.format_npwp)
