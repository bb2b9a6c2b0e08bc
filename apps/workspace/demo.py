"""Demo data for the live workspace: give the demo web chat channel a public key and origins."""
from __future__ import annotations

from apps.conversations.models import Channel

DEMO_PUBLIC_KEY = "fibrasur-demo-webchat"


def seed(out=None) -> None:
    channel = Channel.objects.filter(kind=Channel.Kind.WEBCHAT).order_by("pk").first()
    if channel is None:
        return
    config = dict(channel.config or {})
    if not config.get("public_key"):
        config["public_key"] = DEMO_PUBLIC_KEY
        config.setdefault("allowed_origins", ["http://localhost:8000", "http://127.0.0.1:8000"])
        channel.config = config
        channel.save(update_fields=["config"])
    if out is not None:
        out.write(f"  web chat widget: /workspace/widget-demo/?key={config['public_key']}\n")
