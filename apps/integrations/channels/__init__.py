"""Channel adapters. Each one turns a provider's wire format into calls to
``apps.conversations.services.message_receive`` (inbound) and sends our replies (outbound)."""
