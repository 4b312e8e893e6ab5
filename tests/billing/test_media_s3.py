"""Proofs of payment on S3-compatible object storage (MEDIA_STORAGE=s3), against a real S3 API
served locally by moto's server mode: uploaded through the page, stored in the bucket, streamed
through the app to both sides of the payment only, never linked publicly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from moto.server import ThreadedMotoServer

from billing.models import Bill, Payment
from billing.services.documents import issue_documents
from tests.factories import Trade

ROOT = Path(__file__).resolve().parent.parent.parent
BUCKET = "tandem-media-test"
PNG = b"\x89PNG\r\n\x1a\n" + b"proof of payment " * 4000  # ~68 KB: more than one streamed chunk
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "tandem-test", "AWS_SECRET_ACCESS_KEY": "tandem-test-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_endpoint():
    """A real S3 API on 127.0.0.1 (moto's server mode) with an empty private bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


@pytest.fixture
def s3_media(settings, s3_endpoint):
    endpoint, client = s3_endpoint
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    return endpoint, client


def url(name, org, **kwargs):
    return reverse(f"billing:{name}", kwargs={"org_slug": org.slug, **kwargs})


@pytest.mark.django_db
def test_a_proof_lands_in_the_bucket_and_is_served_only_through_the_app(client, trade, s3_media):
    endpoint, s3 = s3_media
    po = trade.confirmed()
    issue_documents(po=po)
    bill = Bill.objects.get(purchase_order=po)
    client.force_login(trade.payables.user)
    proof = SimpleUploadedFile("proof.png", PNG, content_type="image/png")
    response = client.post(
        url("bill-pay", trade.customer, number=bill.number),
        {"amount": "5", "paid_on": str(timezone.localdate()), "method": "bank_transfer", "attachment": proof},
    )
    assert response.status_code == 302
    payment = Payment.objects.get()

    (stored,) = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert stored["Key"] == payment.attachment.name and stored["Key"].startswith("payments/")
    assert s3.get_object(Bucket=BUCKET, Key=stored["Key"])["Body"].read() == PNG
    grants = s3.get_object_acl(Bucket=BUCKET, Key=stored["Key"])["Grants"]
    assert all("AllUsers" not in str(grant["Grantee"]) for grant in grants)  # private: no public-read ACL

    pages = [client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()]
    client.force_login(trade.receivables.user)  # the counterparty downloads it through the view
    download = client.get(url("payment-attachment", trade.supplier, pk=payment.pk))
    assert download.status_code == 200
    assert download.streaming
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Disposition"] == 'attachment; filename="proof.png"'
    pages.append(client.get(url("payment-verify", trade.supplier, pk=payment.pk)).content.decode())
    # The pages link the app's view, never the bucket.
    assert url("payment-attachment", trade.customer, pk=payment.pk) in pages[0]
    assert url("payment-attachment", trade.supplier, pk=payment.pk) in pages[1]
    for page in pages:
        assert endpoint not in page and BUCKET not in page and "X-Amz-" not in page and stored["Key"] not in page

    other = Trade()  # another organization: 404 through its own slug and through theirs
    client.force_login(other.customer_admin.user)
    assert client.get(url("payment-attachment", other.customer, pk=payment.pk)).status_code == 404
    assert client.get(url("payment-attachment", trade.customer, pk=payment.pk)).status_code == 404
    assert client.get(f"/media/{stored['Key']}").status_code == 404  # no MEDIA_URL route


def test_media_storage_s3_comes_from_the_environment(tmp_path, s3_endpoint):
    """Production settings with MEDIA_STORAGE=s3 write to the bucket; the default is the volume."""
    endpoint, s3 = s3_endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AWS_", "MEDIA_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="procurement.settings.production",
        SECRET_KEY="x7" * 30,
        ALLOWED_HOSTS="tandem.test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    script = (
        "import django; django.setup()\n"
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import default_storage as s\n"
        "name = s.save('payments/probe.txt', ContentFile(b'probe'))\n"
        "print(type(s._wrapped).__name__, getattr(s, 'default_acl', '-'), getattr(s, 'querystring_auth', '-'), name)\n"
    )

    def run(**extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run() == "FileSystemStorage - - payments/probe.txt"
    assert (tmp_path / "media" / "payments" / "probe.txt").read_bytes() == b"probe"
    s3_env = {
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        **CREDENTIALS,
    }
    assert run(**s3_env) == "S3Storage None True payments/probe.txt"
    assert s3.get_object(Bucket=BUCKET, Key="payments/probe.txt")["Body"].read() == b"probe"
