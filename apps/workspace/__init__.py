"""The live workspace: Collaborator inbox, Operator monitor and the customer web chat widget.

* Staff pages are server-rendered; ``static/workspace/live.js`` keeps one websocket per tab
  (``/ws/staff/``) and re-fetches htmx partials through normal, visibility-checked views when a
  "something changed" signal arrives (throttled; the monitor at most every 2 s).
* The widget is embedded with one script tag (see ``static/widget/asiste-widget.js``). Per channel
  (``Channel.config``): ``public_key`` (required), ``allowed_origins`` (list of embedding sites),
  ``secret_env`` (name of the environment variable holding the HMAC secret for identified
  visitors; default ``WEBCHAT_SECRET_<channel id>``). Limits: ``WIDGET_MESSAGES_PER_MINUTE``
  (per visitor, default 20) and ``WIDGET_HELLOS_PER_MINUTE`` (per address, default 30), from
  settings or the environment.
"""
