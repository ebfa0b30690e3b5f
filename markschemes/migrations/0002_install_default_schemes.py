"""Install the shipped default mark schemes (reference_pdfs/source/mark_schemes.json) in this organization's
schema: existing organizations get them when they migrate, new ones when their schema is created.

Frozen on purpose: it uses this migration's historical models and reads only the fields the file has today, so
later changes to markschemes/defaults.py cannot break it. Idempotent through the fixed key per standard."""

import json
import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAMESPACE = uuid.UUID("6f1c8a52-3a0e-4a53-9a53-2f0c5a1d7e18")  # = markschemes.defaults._NAMESPACE


def install(apps, schema_editor):
    MarkScheme = apps.get_model("markschemes", "MarkScheme")
    SchemeQuestion = apps.get_model("markschemes", "SchemeQuestion")
    MarkingPoint = apps.get_model("markschemes", "MarkingPoint")
    path = Path(settings.BASE_DIR) / "reference_pdfs" / "source" / "mark_schemes.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for raw in data["schemes"]:
        key = uuid.uuid5(NAMESPACE, f"care-certificate-standard-{raw['standard']}")
        if MarkScheme.objects.filter(key=key).exists():
            continue
        scheme = MarkScheme.objects.create(
            key=key, version=1, standard=raw["standard"], title=raw["title"], state="published",
            origin="default", published_at=timezone.now(),
        )
        for q in raw["questions"]:
            question = SchemeQuestion.objects.create(
                scheme=scheme, number=q["number"], text=q["text"], max_marks=Decimal(str(q["max_marks"])),
                model_answer=q.get("model_answer", ""),
            )
            MarkingPoint.objects.bulk_create(
                MarkingPoint(question=question, order=order, statement=p["statement"], marks=Decimal(str(p["marks"])))
                for order, p in enumerate(q["points"], start=1)
            )


class Migration(migrations.Migration):
    dependencies = [("markschemes", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
