"""Cases for the property tests of the Docker command builders: each names a builder and a value slot.

test_builder_properties.py runs them; tests/unit/property_support.py describes the check each case runs.
"""

from __future__ import annotations

import csv
from typing import Any

from hypothesis import strategies as st

from pipeline.commands import docker
from tests.unit.property_support import (
    HOSTILE_TEXT,
    NON_EMPTY_TEXT,
    NUMBER_OR_TEXT,
    ArgvCase,
    option_value,
)

IMAGE = "registry.test:5000/agent-dk:v1"
OTHER_IMAGE = "registry.test:5000/agent-dk:v2"
NAME = "agent-dk-uat-v1"
OTHER_NAME = "agent-dk-uat-v2"
STATE_DIR = "/home/deploy/.agent-dk/uat"


def build(**overrides: Any) -> list[str]:
    values = {
        "image_ref": IMAGE,
        "build_args": {"APP_VERSION": "v1"},
        "context": "/src",
        "dockerfile": "/src/Dockerfile",
    }
    return docker.build(**{**values, **overrides})


def run_release(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "name": NAME,
        "alias": "r-0123456789ab",
        "image": IMAGE,
        "environment": "uat",
        "version": "v1",
        "network": "agent-dk-uat",
        "env_file": f"{STATE_DIR}/app.env",
        "gpus": "device=0,1",
    }
    return docker.run_release(docker.Release(**{**values, **overrides}))  # type: ignore[arg-type]


def run_proxy(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "name": "agent-dk-uat",
        "image": "nginx:stable",
        "environment": "uat",
        "network": "agent-dk-uat-net",
        "config_dir": f"{STATE_DIR}/proxy",
        "publish_address": "127.0.0.1",
        "host_port": 18080,
        "tls_cert": "/etc/tls/cert.pem",
        "tls_key": "/etc/tls/key.pem",
    }
    return docker.run_proxy(docker.Proxy(**{**values, **overrides}))  # type: ignore[arg-type]


def build_arg_name_kept(argv: list[str], name: str) -> None:
    # A --build-arg is NAME=VALUE, so the name is everything before the first "=".
    assert option_value(argv, "--build-arg").partition("=")[0] == name


def gpus_field_kept(argv: list[str], gpus: str) -> None:
    # Docker reads --gpus as one CSV record, so the value must come back as exactly one field.
    assert next(csv.reader([option_value(argv, "--gpus")])) == [gpus]


CASES = [
    ArgvCase("build image_ref", lambda v: build(image_ref=v), IMAGE),
    ArgvCase("build context", lambda v: build(context=v), "/src", operand=True),
    ArgvCase("build dockerfile", lambda v: build(dockerfile=v), "/src/Dockerfile"),
    ArgvCase("build arg value", lambda v: build(build_args={"APP_VERSION": v}), "v1", ("APP_VERSION={}",)),
    ArgvCase(
        "build arg name", lambda v: build(build_args={v: "1"}), "APP_VERSION", ("{}=1",), check=build_arg_name_kept
    ),
    ArgvCase("tag source", lambda v: docker.tag(v, OTHER_IMAGE), IMAGE, operand=True),
    ArgvCase("tag target", lambda v: docker.tag(IMAGE, v), OTHER_IMAGE, operand=True),
    ArgvCase("push", docker.push, IMAGE, operand=True),
    ArgvCase("pull", docker.pull, IMAGE, operand=True),
    ArgvCase("login registry", lambda v: docker.login(v, "ci"), "registry.test:5000", operand=True),
    ArgvCase("login username", lambda v: docker.login("registry.test:5000", v), "ci"),
    ArgvCase("repo_digests", docker.repo_digests, IMAGE, operand=True),
    ArgvCase("inspect_image", docker.inspect_image, IMAGE, operand=True),
    ArgvCase("list_images", docker.list_images, "registry.test:5000/agent-dk", operand=True),
    ArgvCase("inspect_container", docker.inspect_container, NAME, operand=True),
    ArgvCase("list_releases", docker.list_releases, "uat", ("label=agent-dk.env={}",)),
    ArgvCase("remove_image", docker.remove_image, IMAGE, operand=True),
    ArgvCase("inspect_network", docker.inspect_network, "agent-dk-uat", operand=True),
    ArgvCase("create_network name", lambda v: docker.create_network(v, "uat"), "agent-dk-uat", operand=True),
    ArgvCase("create_network environment", lambda v: docker.create_network("net", v), "uat", ("agent-dk.env={}",)),
    ArgvCase("exec_in name", lambda v: docker.exec_in(v, "nginx", "-t"), NAME, operand=True),
    # The command's own arguments may start with "-" because they go to the program in the container.
    ArgvCase("exec_in command", lambda v: docker.exec_in(NAME, "nginx", v), "-t"),
    ArgvCase("stop name", lambda v: docker.stop(v, 10), NAME, operand=True),
    ArgvCase("stop timeout", lambda v: docker.stop(NAME, v), 10, values=st.integers()),
    ArgvCase("start", docker.start, NAME, operand=True),
    ArgvCase("remove", lambda v: docker.remove(v, force=True), NAME, operand=True),
    ArgvCase("rename old", lambda v: docker.rename(v, OTHER_NAME), NAME, operand=True),
    ArgvCase("rename new", lambda v: docker.rename(NAME, v), OTHER_NAME, operand=True),
    ArgvCase("logs name", lambda v: docker.logs(v, 50), NAME, operand=True),
    ArgvCase("logs lines", lambda v: docker.logs(NAME, v), 50, values=NUMBER_OR_TEXT),
    ArgvCase("proxy_test", docker.proxy_test, NAME, operand=True),
    ArgvCase("proxy_reload", docker.proxy_reload, NAME, operand=True),
    ArgvCase("run_release name", lambda v: run_release(name=v), NAME),
    ArgvCase("run_release alias", lambda v: run_release(alias=v), "r-0123456789ab", ("{}", "agent-dk.alias={}")),
    ArgvCase("run_release image", lambda v: run_release(image=v), IMAGE, operand=True),
    ArgvCase("run_release environment", lambda v: run_release(environment=v), "uat", ("agent-dk.env={}",)),
    ArgvCase("run_release version", lambda v: run_release(version=v), "v1", ("org.opencontainers.image.version={}",)),
    ArgvCase("run_release network", lambda v: run_release(network=v), "agent-dk-uat"),
    ArgvCase("run_release env_file", lambda v: run_release(env_file=v), f"{STATE_DIR}/app.env"),
    ArgvCase("run_release memory", lambda v: run_release(memory=v), "4g"),
    ArgvCase("run_release pids_limit", lambda v: run_release(pids_limit=v), 512, values=NUMBER_OR_TEXT),
    ArgvCase(
        "run_release gpus",
        lambda v: run_release(gpus=v),
        "device=0,1",
        (docker.gpus_value,),
        # "none" leaves the --gpus option out.
        values=HOSTILE_TEXT.filter(lambda v: v != "none"),
        check=gpus_field_kept,
    ),
    ArgvCase("run_proxy name", lambda v: run_proxy(name=v), "agent-dk-uat"),
    ArgvCase("run_proxy image", lambda v: run_proxy(image=v), "nginx:stable", operand=True),
    ArgvCase("run_proxy environment", lambda v: run_proxy(environment=v), "uat", ("agent-dk.env={}",)),
    ArgvCase("run_proxy network", lambda v: run_proxy(network=v), "agent-dk-uat-net"),
    ArgvCase(
        "run_proxy config_dir", lambda v: run_proxy(config_dir=v), f"{STATE_DIR}/proxy", ("{}:/etc/nginx/conf.d:ro",)
    ),
    ArgvCase("run_proxy publish_address", lambda v: run_proxy(publish_address=v), "127.0.0.1", ("{}:18080:8080",)),
    ArgvCase(
        "run_proxy host_port", lambda v: run_proxy(host_port=v), 18080, ("127.0.0.1:{}:8080",), values=NUMBER_OR_TEXT
    ),
    ArgvCase(
        "run_proxy tls_cert",
        lambda v: run_proxy(tls_cert=v),
        "/etc/tls/cert.pem",
        ("{}:/etc/nginx/tls/cert.pem:ro",),
        # An empty certificate path turns TLS off, which leaves both TLS volumes out.
        values=NON_EMPTY_TEXT,
    ),
    ArgvCase(
        "run_proxy tls_key", lambda v: run_proxy(tls_key=v), "/etc/tls/key.pem", ("{}:/etc/nginx/tls/key.pem:ro",)
    ),
]
