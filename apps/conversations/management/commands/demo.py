from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.conversations.demo import DEMO_PASSWORD, PEOPLE, seed_all


class Command(BaseCommand):
    help = "Migrate, seed the FibraSur ISP demo (idempotent) and start the server on the embedded default."

    def add_arguments(self, parser):
        parser.add_argument("--no-server", action="store_true", help="Seed only, do not start the server.")
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--conversations", type=int, default=300)

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        seed_all(self.stdout, conversations=opts["conversations"])
        self.stdout.write(self.style.SUCCESS("\nFibraSur demo ready. Log in at http://%s/ with password '%s' as:"
                                             % (opts["addrport"], DEMO_PASSWORD)))
        for username, name, role, depts, external in PEOPLE:
            self.stdout.write(f"  {username:<17} {role:<13} {name:<18} {', '.join(depts) or 'all departments'}"
                              f"{' (night shift, external)' if external else ''}")
        if not opts["no_server"]:
            call_command("runserver", opts["addrport"], use_reloader=False)

