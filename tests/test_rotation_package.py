"""The CA bundle the rotation function verifies the database with, shipped in its package."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import ssl
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.stack import rendered
from tfgen.render import templates as render
from tfgen.render.package import DataFile, PackageSpec, PackagingError, build_package

LAMBDAS = ROOT / "lambdas"
BUNDLE = LAMBDAS / render.RDS_CA_BUNDLE


def _rotation_zip(files: dict[str, bytes]) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(files["packages/db_secret_rotation.zip"]))


def test_the_rds_bundle_matches_its_pin_and_holds_only_amazon_rds_roots() -> None:
    pin = (BUNDLE.parent / (BUNDLE.name + ".sha256")).read_text().split()
    assert pin == [hashlib.sha256(BUNDLE.read_bytes()).hexdigest(), BUNDLE.name]
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", BUNDLE.read_text(), re.S)
    assert len(pems) >= 90
    context = ssl.create_default_context(cafile=str(BUNDLE))
    subjects = [dict(part[0] for part in cert["subject"]) for cert in context.get_ca_certs()]
    assert len(subjects) == len(pems)
    assert all(re.fullmatch(r"Amazon RDS (Beta |Preview )?[a-z]{2}-[a-z]+-[0-9] Root CA (RSA2048|RSA4096|ECC384) G1",
                            subject["commonName"]) for subject in subjects)
    assert {"Amazon RDS us-east-1 Root CA RSA2048 G1", "Amazon RDS us-east-1 Root CA ECC384 G1"} <= {
        subject["commonName"] for subject in subjects}


def test_the_rotation_package_ships_the_pinned_bundle_where_the_function_looks() -> None:
    files = rendered("dev").files
    with _rotation_zip(files) as package:
        assert package.read(render.CA_BUNDLE_ZIP_PATH) == BUNDLE.read_bytes()
        # rotation_db.DEFAULT_CA_FILE is the bundle next to the module, at the zip's root.
        assert 'Path(__file__).resolve().parent / "rds-ca-bundle.pem"' in package.read("rotation_db.py").decode()
    for name in ("payment_validation", "fraud_detection", "transaction_processing"):
        with zipfile.ZipFile(io.BytesIO(files[f"packages/{name}.zip"])) as package:
            assert render.CA_BUNDLE_ZIP_PATH not in package.namelist()


def test_a_configured_bundle_is_shipped_instead(tmp_path: Path) -> None:
    own = tmp_path / "corporate-ca.pem"
    own.write_bytes(BUNDLE.read_bytes()[:1500] + b"\n")
    files = rendered("dev", f"lambda:\n  rotation:\n    ca_bundle: {own}\n").files
    with _rotation_zip(files) as package:
        assert package.read(render.CA_BUNDLE_ZIP_PATH) == own.read_bytes()


def test_a_relative_configured_bundle_is_read_from_the_repository_root() -> None:
    data = render.ca_bundle(LAMBDAS, "lambdas/certs/rds-global-bundle.pem")
    assert data == DataFile("rds-ca-bundle.pem", BUNDLE, hint="lambda.rotation.ca_bundle names it")


def _spec(tmp_path: Path, data: DataFile) -> PackageSpec:
    source = tmp_path / "fn"
    source.mkdir(exist_ok=True)
    (source / "fn.py").write_text("x = 1\n")
    return PackageSpec(name="fn", sources=(source,), requirements=None, runtime="python3.12",
                       architecture="x86_64", data_files=(data,))


def test_packaging_fails_clearly_when_the_bundle_is_missing(tmp_path: Path) -> None:
    lambdas = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS / "certs", lambdas / "certs")
    (lambdas / render.RDS_CA_BUNDLE).unlink()
    data = render.ca_bundle(lambdas, None)
    with pytest.raises(PackagingError) as caught:
        build_package(_spec(tmp_path, data), tmp_path / "cache")
    assert str(caught.value) == (
        f"package fn: {lambdas / render.RDS_CA_BUNDLE} does not exist; run `make rds-ca-bundle`, "
        "or name a bundle in lambda.rotation.ca_bundle")
    configured = render.ca_bundle(lambdas, str(tmp_path / "nope.pem"))
    with pytest.raises(PackagingError, match=r"nope\.pem does not exist; lambda.rotation.ca_bundle names it"):
        build_package(_spec(tmp_path, configured), tmp_path / "cache")


def test_packaging_fails_when_the_bundle_differs_from_its_pin(tmp_path: Path) -> None:
    lambdas = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS / "certs", lambdas / "certs")
    with (lambdas / render.RDS_CA_BUNDLE).open("ab") as bundle:
        bundle.write(b"\n")
    with pytest.raises(PackagingError, match="not the pinned 390fdc81"):
        build_package(_spec(tmp_path, render.ca_bundle(lambdas, None)), tmp_path / "cache")


def test_a_data_file_clashing_with_a_source_file_is_an_error(tmp_path: Path) -> None:
    spec = _spec(tmp_path, DataFile("fn.py", BUNDLE))
    with pytest.raises(PackagingError, match=r"fn\.py is in both"):
        build_package(spec, tmp_path / "cache")


def test_the_bundle_is_part_of_the_cache_key(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_text("a\n")
    second.write_text("b\n")
    one = build_package(_spec(tmp_path, DataFile("ca.pem", first)), tmp_path / "cache")
    two = build_package(_spec(tmp_path, DataFile("ca.pem", second)), tmp_path / "cache")
    assert one.source_code_hash != two.source_code_hash


def test_an_unreadable_pin_is_a_usage_error(tmp_path: Path) -> None:
    from tfgen.errors import UsageError

    (tmp_path / "certs").mkdir()
    with pytest.raises(UsageError, match="pinned SHA-256"):
        render.ca_bundle(tmp_path, None)
