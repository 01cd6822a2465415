from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws.moto_process import FAKE_CREDENTIALS, MotoProcess


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoProcess]:
    """One moto server for the AWS tests; tests use unique trace ids and log group names."""
    proc = MotoProcess(tmp_path_factory.mktemp("moto"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def aws_env(moto: MotoProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Static fake credentials and AWS_ENDPOINT_URL at moto, in this process's environment too
    (botocore's credential chain always reads os.environ)."""
    env = moto.env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL_XRAY", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"):
        monkeypatch.delenv(k, raising=False)
    assert FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"] == "testing"
    return env
