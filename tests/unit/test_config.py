from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import DEFAULT_CONFIG, load_settings
from pipeline.errors import InputError
from tests.keys import ed25519_private_openssh, ed25519_public_openssh, rsa_private_pem_encrypted

KNOWN_HOSTS = "[127.0.0.1]:2222 " + " ".join(ed25519_public_openssh().split()[:2])


@pytest.fixture
def key_text() -> str:
    return ed25519_private_openssh()


def target_values(key: str, **overrides: str) -> dict[str, str]:
    values = {
        "SSH_HOST": "127.0.0.1",
        "SSH_PORT": "2222",
        "SSH_USER": "deploy",
        "SSH_KEY": key,
        "SSH_KNOWN_HOSTS": KNOWN_HOSTS,
        "REGISTRY": "127.0.0.1:5000",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def load(environ: dict[str, str], config: Path = DEFAULT_CONFIG, tmp_path: Path | None = None):
    # An empty env file isolates the test from any .env in the checkout.
    env_file = (tmp_path or Path("/tmp")) / "empty.env"
    env_file.write_text("")
    return load_settings(config, {"AGENT_DK_ENV_FILE": str(env_file), **environ})


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    return path


ONE_ENV = """
[environments.uat]
branch = "develop"
port = 18080
container = "agent-dk-uat"
"""


def test_repository_config_loads(tmp_path: Path) -> None:
    settings = load({}, tmp_path=tmp_path)
    assert sorted(settings.environments) == ["prod", "stg", "uat"]
    assert settings.environment("prod").approval is True
    assert settings.environment("uat").port == 18080


@pytest.mark.parametrize(("alias", "name"), [("staging", "stg"), ("production", "prod"), ("stg", "stg")])
def test_environment_aliases(tmp_path: Path, alias: str, name: str) -> None:
    assert load({}, tmp_path=tmp_path).environment(alias).name == name


def test_unknown_environment_lists_choices(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load({}, tmp_path=tmp_path).environment("nope")
    assert str(error.value) == (
        "unknown environment 'nope': valid environments are uat, stg (staging), prod (production)"
    )


def test_missing_environment_flag(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing --env"):
        load({}, tmp_path=tmp_path).environment(None)


def test_gpus_override_applies(tmp_path: Path) -> None:
    settings = load({"GPUS_OVERRIDE": "none"}, tmp_path=tmp_path)
    assert settings.environment("prod").gpus == "none"


def test_image_ref_lowercases_repository_keeps_tag(tmp_path: Path) -> None:
    settings = load({"REGISTRY": "Registry.Example.Internal:5000"}, tmp_path=tmp_path)
    assert settings.image_ref("RC1") == "registry.example.internal:5000/agent-dk:RC1"


def test_target_from_key_text(tmp_path: Path, key_text: str) -> None:
    target = load(target_values(key_text), tmp_path=tmp_path).target()
    assert target.port == 2222
    assert key_text not in repr(target)


def test_target_accepts_escaped_newlines(tmp_path: Path, key_text: str) -> None:
    one_line = key_text.strip().replace("\n", "\\n")
    assert load(target_values(one_line), tmp_path=tmp_path).target().user == "deploy"


def test_target_names_all_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load({}, tmp_path=tmp_path).target()
    message = str(error.value)
    for name in ("SSH_HOST", "SSH_USER", "SSH_KEY or SSH_KEY_FILE", "SSH_KNOWN_HOSTS or SSH_KNOWN_HOSTS_FILE"):
        assert name in message


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "'-----END OPENSSH PRIVATE KEY-----' line is missing"),
        ("not a key at all", "not a private key"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE", "this is a public key"),
    ],
)
def test_target_rejects_bad_key(tmp_path: Path, key: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load(target_values(key), tmp_path=tmp_path).target()


def test_target_rejects_truncated_key(tmp_path: Path, key_text: str) -> None:
    lines = key_text.strip().splitlines()
    truncated = "\n".join(lines[:2] + lines[-1:])
    with pytest.raises(InputError, match="cannot be read"):
        load(target_values(truncated), tmp_path=tmp_path).target()


def test_target_rejects_encrypted_key(tmp_path: Path) -> None:
    encrypted = rsa_private_pem_encrypted(b"secret-passphrase")
    with pytest.raises(InputError, match="encrypted with a passphrase"):
        load(target_values(encrypted), tmp_path=tmp_path).target()


def test_target_rejects_missing_key_file(tmp_path: Path) -> None:
    values = target_values("", SSH_KEY_FILE=str(tmp_path / "nope"))
    del values["SSH_KEY"]
    with pytest.raises(InputError, match="SSH_KEY_FILE .* not found"):
        load(values, tmp_path=tmp_path).target()


def test_target_rejects_key_text_and_file(tmp_path: Path, key_text: str) -> None:
    with pytest.raises(InputError, match="both SSH_KEY and SSH_KEY_FILE"):
        load(target_values(key_text, SSH_KEY_FILE="/tmp/x"), tmp_path=tmp_path).target()


@pytest.mark.parametrize(
    "known_hosts",
    ["", "# only a comment", "host-without-key", "[127.0.0.1]:2222 ssh-ed25519 not-base64!!"],
)
def test_target_rejects_bad_known_hosts(tmp_path: Path, key_text: str, known_hosts: str) -> None:
    values = target_values(key_text, SSH_KNOWN_HOSTS=known_hosts)
    if not known_hosts:
        del values["SSH_KNOWN_HOSTS"]
    with pytest.raises(InputError, match="SSH_KNOWN_HOSTS"):
        load(values, tmp_path=tmp_path).target()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SSH_PORT", "0", "invalid SSH_PORT '0'"),
        ("SSH_PORT", "ssh", "invalid SSH_PORT 'ssh'"),
        ("SSH_HOST", "-oProxyCommand=sh", "invalid SSH_HOST"),
        ("SSH_USER", "Deploy User", "invalid SSH_USER"),
        ("PUBLISH_ADDRESS", "localhost", "invalid PUBLISH_ADDRESS"),
    ],
)
def test_target_rejects_bad_values(tmp_path: Path, key_text: str, name: str, value: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load(target_values(key_text, **{name: value}), tmp_path=tmp_path).target()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"REGISTRY": "http://127.0.0.1:5000"}, "without a scheme"),
        ({"REGISTRY": "127.0.0.1:5000", "REGISTRY_USERNAME": "ci"}, "set both or neither"),
        ({"BASE_IMAGE": "Python 3"}, "invalid BASE_IMAGE"),
        ({"BUILD_CA_CERT": "/nonexistent/ca.pem"}, "BUILD_CA_CERT '/nonexistent/ca.pem' not found"),
        ({"GPUS_OVERRIDE": "some"}, "invalid GPUS_OVERRIDE"),
    ],
)
def test_settings_reject_bad_values(tmp_path: Path, environ: dict[str, str], expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load(environ, tmp_path=tmp_path)


def test_registry_password_is_masked(tmp_path: Path) -> None:
    settings = load(
        {"REGISTRY": "127.0.0.1:5000", "REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": "hunter2-secret"},
        tmp_path=tmp_path,
    )
    assert "hunter2-secret" not in repr(settings.registry)
    assert settings.registry.password.reveal() == "hunter2-secret"


def test_process_environment_overrides_file(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("REGISTRY=file.example.internal\n")
    settings = load_settings(
        DEFAULT_CONFIG, {"AGENT_DK_ENV_FILE": str(env_file), "REGISTRY": "process.example.internal"}
    )
    assert settings.registry.address == "process.example.internal"


def test_missing_env_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="AGENT_DK_ENV_FILE '/nonexistent.env' not found"):
        load_settings(DEFAULT_CONFIG, {"AGENT_DK_ENV_FILE": "/nonexistent.env"})


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('gpu = "all"', "unknown key 'gpu' in \\[environments.uat\\]"),
        ('gpus = "everything"', "invalid gpus"),
        ("port = 70000", "invalid port 70000 in \\[environments.uat\\] of .*deploy.toml"),
        ('approval = "yes"', "invalid approval"),
        ("ready_timeout = 0", "invalid ready_timeout"),
        ('container = "agent dk"', "invalid container"),
        (
            'strategy = "canary"',
            "invalid strategy 'canary' in \\[environments.uat\\] of .*: expected one of blue-green, recreate",
        ),
        ("retain = -1", "invalid retain"),
        ("retain = 1.5", "invalid retain"),
        ('memory = "lots"', "invalid memory"),
        ("drain_timeout = -2", "invalid drain_timeout"),
        ('app_env = { "bad-name" = "x" }', "invalid app_env name 'bad-name' in \\[environments.uat\\]"),
        ('app_env = { LOG = "a\\nb" }', "single-line"),
    ],
)
def test_config_rejects_bad_environment(tmp_path: Path, extra: str, expected: str) -> None:
    lines = [line for line in ONE_ENV.splitlines() if not line.startswith(extra.split()[0] + " ")]
    config = write_config(tmp_path, "\n".join([*lines, extra]) + "\n")
    with pytest.raises(InputError, match=expected):
        load({}, config=config, tmp_path=tmp_path)


def test_config_rejects_duplicate_port(tmp_path: Path) -> None:
    second = ONE_ENV.replace("uat", "stg").replace("develop", "release")
    config = write_config(tmp_path, ONE_ENV + second)
    with pytest.raises(
        InputError, match="port 18080 in \\[environments.stg\\] of .* is already used by \\[environments.uat\\]"
    ):
        load({}, config=config, tmp_path=tmp_path)


def test_config_rejects_missing_keys(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[environments.uat]\nbranch = 'develop'\n")
    with pytest.raises(InputError, match="missing container, port in \\[environments.uat\\]"):
        load({}, config=config, tmp_path=tmp_path)


def test_config_rejects_invalid_toml(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[environments.uat\n")
    with pytest.raises(InputError, match="invalid TOML in .*deploy.toml: .*line 1"):
        load({}, config=config, tmp_path=tmp_path)


def test_config_rejects_unknown_section(tmp_path: Path) -> None:
    config = write_config(tmp_path, ONE_ENV + "\n[enviroments.x]\n")
    with pytest.raises(InputError, match="unknown key 'enviroments'"):
        load({}, config=config, tmp_path=tmp_path)


def test_environment_tunables_inherit_defaults(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, "[defaults]\ndrain_timeout = 3\nretain = 5\n" + ONE_ENV + 'app_env = { LOG_LEVEL = "debug" }\n'
    )
    env = load({}, config=config, tmp_path=tmp_path).environment("uat")
    assert env.drain_timeout == 3
    assert env.retain == 5
    assert env.strategy == "blue-green"
    assert env.app_env == {"LOG_LEVEL": "debug"}


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("false", False), ("", False)])
def test_registry_via_ssh_flag(tmp_path: Path, value: str, expected: bool) -> None:
    settings = load({"REGISTRY_VIA_SSH": value} if value else {}, tmp_path=tmp_path)
    assert settings.registry_via_ssh is expected


def test_registry_via_ssh_rejects_other_words(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="invalid REGISTRY_VIA_SSH 'maybe'"):
        load({"REGISTRY_VIA_SSH": "maybe"}, tmp_path=tmp_path)


def test_empty_process_value_counts_as_unset(tmp_path: Path) -> None:
    env_file = tmp_path / "file.env"
    env_file.write_text("REGISTRY=file.example.internal\n")
    settings = load_settings(DEFAULT_CONFIG, {"AGENT_DK_ENV_FILE": str(env_file), "REGISTRY": ""})
    assert settings.registry.address == "file.example.internal"


def test_tls_settings_go_together(tmp_path: Path) -> None:
    config = write_config(tmp_path, ONE_ENV + 'tls_cert = "/etc/ssl/agent.pem"\n')
    with pytest.raises(InputError, match="tls_cert and tls_key .* go together"):
        load({}, config=config, tmp_path=tmp_path)


def test_tls_needs_host(tmp_path: Path) -> None:
    config = write_config(tmp_path, ONE_ENV + 'tls_cert = "/etc/ssl/a.pem"\ntls_key = "/etc/ssl/a.key"\n')
    with pytest.raises(InputError, match="missing tls_host"):
        load({}, config=config, tmp_path=tmp_path)


@pytest.mark.parametrize("host", ["::1", "fe80::1%x; return 200 pwned"])
def test_tls_host_rejects_ipv6(tmp_path: Path, host: str) -> None:
    tls = f'tls_cert = "/etc/ssl/a.pem"\ntls_key = "/etc/ssl/a.key"\ntls_host = "{host}"\n'
    config = write_config(tmp_path, ONE_ENV + tls)
    with pytest.raises(InputError, match="invalid tls_host .* in .*: expected a host name or an IPv4 address"):
        load({}, config=config, tmp_path=tmp_path)


@pytest.mark.parametrize("setting", ["pids_limit = inf", "ready_timeout = nan", "proxy_read_timeout = inf"])
def test_environment_rejects_non_finite_number(tmp_path: Path, setting: str) -> None:
    config = write_config(tmp_path, ONE_ENV + setting + "\n")
    with pytest.raises(InputError, match="expected a finite number greater than 0"):
        load({}, config=config, tmp_path=tmp_path)


@pytest.mark.parametrize("setting", ["proxy_read_timeout = 0.5", "proxy_connect_timeout = 2147484"])
def test_environment_rejects_bad_nginx_seconds(tmp_path: Path, setting: str) -> None:
    config = write_config(tmp_path, ONE_ENV + setting + "\n")
    with pytest.raises(InputError, match="expected whole seconds from 1 to 2147483"):
        load({}, config=config, tmp_path=tmp_path)
