from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def ensure_role_groups(sender, **kwargs):
    # Runs after each app migrates (cheap): permissions of later apps exist only by then.
    from .services import roles_ensure

    roles_ensure()
