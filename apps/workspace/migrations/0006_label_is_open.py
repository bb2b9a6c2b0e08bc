"""``ConversationLabel.is_open`` (the conversation is not archived) and the partial index the open
lists' label filter reads: the label's open chats only, not its whole history.

The links of conversations archived today are set to false before the index is built."""
from django.conf import settings
from django.db import migrations, models


def fill_is_open(apps, schema_editor):
    ConversationLabel = apps.get_model("workspace", "ConversationLabel")
    ConversationLabel.objects.filter(conversation__status="archived").update(is_open=False)


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0006_archived_list_order'),
        ('workspace', '0005_open_list_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='conversationlabel',
            name='is_open',
            field=models.BooleanField(db_default=True, default=True, editable=False, verbose_name='conversation open'),
        ),
        migrations.RunPython(fill_is_open, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='conversationlabel',
            index=models.Index(condition=models.Q(('is_open', True)), fields=['label', 'conversation'], name='convlabel_open_label_conv'),
        ),
    ]
