from __future__ import annotations

import pytest

from pipeline import validate
from pipeline.errors import InputError


@pytest.mark.parametrize("tag", ["v1", "3f4410f8f586", "1.2.3-rc.1", "Release_2026", "a" * 128, "_x"])
def test_version_tag_accepts(tag: str) -> None:
    assert validate.version_tag(tag) == tag


@pytest.mark.parametrize(
    "tag", ["", "bad tag;rm", "feature/x", "a" * 129, ".hidden", "-rf", "v1:2", "v1@sha", "tab\there", "ünicode"]
)
def test_version_tag_rejects(tag: str) -> None:
    with pytest.raises(InputError) as error:
        validate.version_tag(tag)
    assert repr(tag) in str(error.value)
    assert "Docker tag" in str(error.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:5000", "127.0.0.1:5000"), ("Registry.Example.Internal", "registry.example.internal")],
)
def test_registry_accepts_and_lowercases(value: str, expected: str) -> None:
    assert validate.registry(value) == expected


@pytest.mark.parametrize("value", ["https://registry.example.internal", "reg istry", "registry:99999", "-reg", "a_b"])
def test_registry_rejects(value: str) -> None:
    with pytest.raises(InputError, match="invalid REGISTRY"):
        validate.registry(value)


@pytest.mark.parametrize("value", ["0", "65536", "-1", "22x", "", "8080.5"])
def test_port_rejects(value: str) -> None:
    with pytest.raises(InputError, match="expected a port number 1-65535"):
        validate.port(value, source="SSH_PORT")


def test_port_rejects_bool() -> None:
    with pytest.raises(InputError):
        validate.port(True, source="port")


@pytest.mark.parametrize("value", ["all", "none", "device=0", "device=0,1"])
def test_gpus_accepts(value: str) -> None:
    assert validate.gpus(value, source="gpus") == value


@pytest.mark.parametrize("value", ["ALL", "2", "device=", "device=a", "device=0,", "gpu0"])
def test_gpus_rejects(value: str) -> None:
    with pytest.raises(InputError, match='"all", "none" or "device=0,1"'):
        validate.gpus(value, source="gpus")


@pytest.mark.parametrize("value", ["gpu-server.example.internal", "127.0.0.1", "::1", "host1"])
def test_host_accepts(value: str) -> None:
    assert validate.host(value, source="SSH_HOST")


@pytest.mark.parametrize("value", ["-oProxyCommand=x", "host name", "host;rm", "", "a" * 254])
def test_host_rejects(value: str) -> None:
    with pytest.raises(InputError, match="SSH_HOST"):
        validate.host(value, source="SSH_HOST")


def test_repository_rejects_uppercase() -> None:
    # Docker rejects uppercase repository names, so the message suggests the lowercase one.
    with pytest.raises(
        InputError, match="invalid image 'Agent-DK': a repository name is lowercase.*such as 'agent-dk'"
    ):
        validate.repository("Agent-DK", source="image")


@pytest.mark.parametrize("value", ["agent dk", "agent-dk/", "agent-dk:latest", "-agent", "agent..dk"])
def test_repository_rejects(value: str) -> None:
    with pytest.raises(InputError, match="repository"):
        validate.repository(value, source="image")


@pytest.mark.parametrize("value", ["python:3.11-slim", "agent-dk-base:bookworm", "nginx", "127.0.0.1:5000/app:v1"])
def test_image_accepts(value: str) -> None:
    assert validate.image(value, source="BASE_IMAGE") == value


@pytest.mark.parametrize("value", ["Python:3.11", "python:3.11 slim", "python::3", "--privileged"])
def test_image_rejects(value: str) -> None:
    with pytest.raises(InputError, match="BASE_IMAGE"):
        validate.image(value, source="BASE_IMAGE")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), float("-inf"), 0, -1, True, "5"])
def test_positive_number_rejects(value: object) -> None:
    with pytest.raises(InputError, match="expected a finite number greater than 0"):
        validate.positive_number(value, source="ready_timeout")


def test_positive_number_accepts_int_and_float() -> None:
    assert validate.positive_number(5, source="ready_timeout") == 5.0
    assert validate.positive_number(0.5, source="ready_timeout") == 0.5


def test_ip_address_rejects_zone() -> None:
    with pytest.raises(InputError, match="without a zone"):
        validate.ip_address("fe80::1%x]@evil.example#", source="PUBLISH_ADDRESS")


@pytest.mark.parametrize(("value", "expected"), [("0.0.0.0", "0.0.0.0"), ("::1", "::1"), ("FE80::1", "fe80::1")])
def test_ip_address_accepts(value: str, expected: str) -> None:
    assert validate.ip_address(value, source="PUBLISH_ADDRESS") == expected
