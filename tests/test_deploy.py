"""The deployment files in deploy/: Compose, the image, the systemd units and their commands.

No Docker engine or systemd is needed: the files are parsed and checked against the real
command line and settings, and the image's health check runs against a local server.
"""

from __future__ import annotations

import configparser
import functools
import http.server
import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml

from tracker.cli import app
from tracker.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING_UNITS = (
    "release-tracker.service",
    "release-tracker-web.service",
    "release-tracker-worker@.service",
    "release-tracker-beat.service",
)
# Variables the deployment may set besides the settings: read by the CLI itself
# (TRACKER_LOG_LEVEL), by huggingface_hub (HF_*), by uvicorn (FORWARDED_ALLOW_IPS).
OTHER_VARIABLES = {"TRACKER_LOG_LEVEL", "HF_TOKEN", "HF_ENDPOINT", "HF_HOME", "FORWARDED_ALLOW_IPS"}


# --- reading the files -----------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def interpolate(text: str) -> str:
    """Compose's `${VAR:-default}` as its default, `${VAR:?message}` as a set value."""
    return re.sub(
        r"\$\{\w+(?::-([^}]*)|:\?[^}]*)\}",
        lambda m: m.group(1) if m.group(1) is not None else "set",
        text,
    )


@functools.cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def instruction(keyword: str) -> list[str]:
    return [arguments for k, arguments in dockerfile() if k == keyword]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of CMD/HEALTHCHECK CMD; shell form is refused (signals, no shell)."""
    assert arguments.startswith("["), f"use the exec form: {arguments}"
    return json.loads(arguments)


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name)
    return parser


def env_example() -> dict[str, str]:
    """Every VARIABLE=value of env.example, commented-out ones included."""
    found = {}
    for line in (SYSTEMD / "env.example").read_text().splitlines():
        match = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def settings_variables() -> set[str]:
    return {f"TRACKER_{name.upper()}" for name in Settings.model_fields}


# --- the command line ------------------------------------------------------------------


def cli() -> Any:
    return typer.main.get_command(app)


def resolve(words: list[str]) -> tuple[list[str], Any, list[str]]:
    """Walk `words` (after `tracker`) down the CLI: (command path, command, its arguments)."""
    command, path = cli(), []
    for i, word in enumerate(words):
        if not hasattr(command, "commands") or word.startswith("-"):
            return path, command, words[i:]
        assert word in command.commands, (
            f"`tracker {' '.join([*path, word])}`: no such command "
            f"(have: {', '.join(sorted(command.commands))})"
        )
        command, path = command.commands[word], [*path, word]
    return path, command, []


def check_invocation(argv: list[str]) -> list[str]:
    """`argv` starts a real tracker command whose options parse; returns the command path."""
    assert Path(argv[0]).name == "tracker", argv
    path, command, arguments = resolve(argv[1:])
    assert path and not hasattr(command, "commands"), f"not a complete command: {argv}"
    # Parse (never run) the options, as the command would: unknown ones, bad values fail.
    command.make_context(" ".join(["tracker", *path]), list(arguments))
    return path


def named_commands(text: str, *, markdown: bool) -> Iterator[list[str]]:
    """The `tracker …` commands written in code: `spans`, and in Markdown fenced blocks."""
    snippets = re.findall(r"`([^`\n]+)`", text)
    if markdown:
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
            snippets.extend(block.splitlines())
    for snippet in snippets:
        # Up to a shell operator, so `a && tracker b` and `tracker a; tracker b` count too.
        pattern = r"(?:^|(?<=[\s\"'\[(])|(?<=/bin/))tracker\s+([^|;&<>]*)"
        for match in re.finditer(pattern, snippet):
            words = match.group(1).split()
            # `tracker …` and the like name no command; neither does a shell operator.
            if words and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
                yield [word for word in words if re.fullmatch(r"[a-z][a-z0-9-]*|-\S*", word)]


# --- Compose ---------------------------------------------------------------------------


def test_compose_declares_the_services_without_a_version_key():
    assert "version" not in compose()
    assert {"postgres", "redis", *APP_SERVICES} <= set(compose()["services"])


def test_compose_app_services_run_the_right_tracker_commands():
    commands = {name: service(name)["command"] for name in APP_SERVICES}

    assert commands["migrate"] == ["tracker", "db", "upgrade"]
    assert commands["web"] == ["tracker", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert commands["worker"][:2] == ["tracker", "worker"]
    assert commands["beat"][:2] == ["tracker", "beat"]
    for argv in commands.values():
        check_invocation(argv)


def test_compose_app_services_are_built_from_the_dockerfile():
    for name in APP_SERVICES:
        build = service(name)["build"]
        assert (DEPLOY / build["context"]).resolve() == ROOT
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_compose_app_services_reach_postgres_and_redis_services():
    postgres = {k: interpolate(str(v)) for k, v in service("postgres")["environment"].items()}
    for name in APP_SERVICES:
        env = service(name)["environment"]
        database = urlsplit(interpolate(env["TRACKER_DATABASE_URL"]))
        broker = urlsplit(interpolate(env["TRACKER_BROKER_URL"]))

        assert database.scheme == "postgresql+psycopg"
        assert (database.hostname, database.port) == ("postgres", 5432)
        assert database.username == postgres["POSTGRES_USER"]
        assert database.password == postgres["POSTGRES_PASSWORD"]
        assert database.path == "/" + postgres["POSTGRES_DB"]
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)


def test_compose_sets_only_real_settings():
    for name in APP_SERVICES:
        unknown = set(service(name)["environment"]) - settings_variables() - OTHER_VARIABLES
        assert not unknown, f"{name}: {unknown} are not settings of the tracker"


def test_compose_requires_the_api_token_and_passes_optional_secrets_through():
    web = service("web")["environment"]

    assert ":?" in web["TRACKER_API_TOKEN"]
    # No value: taken from the shell when set, absent otherwise (never an empty string).
    assert web["TRACKER_WEBHOOK_SECRET"] is None
    assert web["HF_TOKEN"] is None
    assert "TRACKER_PUBLIC_URL" in web


def test_compose_web_has_a_healthcheck_and_publishes_8000():
    web = service("web")
    published = [interpolate(p) if isinstance(p, str) else p for p in web["ports"]]

    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert not web["healthcheck"].get("disable")
    assert any(
        (p.rsplit(":", 1)[-1] if isinstance(p, str) else str(p["target"])) == "8000"
        for p in published
    )


def test_compose_services_without_a_web_server_disable_the_image_healthcheck():
    # The image's HEALTHCHECK asks /healthz, which only `tracker serve` answers.
    for name in ("migrate", "worker", "beat"):
        assert service(name)["healthcheck"] == {"disable": True}, name


def test_compose_infrastructure_has_healthchecks():
    assert "pg_isready" in service("postgres")["healthcheck"]["test"]
    assert service("redis")["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_compose_services_start_in_order():
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in service(name)["depends_on"].items()}

    assert conditions("migrate") == {"postgres": "service_healthy"}
    for name in ("web", "worker", "beat"):
        assert conditions(name)["migrate"] == "service_completed_successfully", name
        assert conditions(name)["redis"] == "service_healthy", name
    assert service("migrate")["restart"] == "no"
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert service(name)["restart"] in ("always", "unless-stopped"), name


def test_compose_declares_its_volumes():
    declared = set(compose()["volumes"])
    mounts = {
        name: dict(v.split(":")[:2] for v in spec.get("volumes", []))
        for name, spec in compose()["services"].items()
    }

    for name, volumes in mounts.items():
        for source in volumes:
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    assert "/var/lib/postgresql/data" in mounts["postgres"].values()
    tracker_home = dict(a.split("=", 1) for a in " ".join(instruction("ENV")).split())
    for name in ("web", "worker", "beat"):
        assert tracker_home["TRACKER_HOME"] in mounts[name].values(), name


# --- the image -------------------------------------------------------------------------


def test_dockerfile_builds_on_python_311_slim_and_installs_the_package():
    assert instruction("FROM") == ["python:3.11-slim"]
    assert any("pip install --no-cache-dir ." in run for run in instruction("RUN"))
    assert "8000" in instruction("EXPOSE")


def test_dockerfile_copies_everything_the_package_build_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        Path(source).name for arguments in instruction("COPY") for source in arguments.split()[:-1]
    }
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {"pyproject.toml", project["project"]["readme"], *packages} <= copied
    assert not copied & ignored


def test_dockerfile_runs_as_a_non_root_user_with_tracker_home_in_data():
    users = instruction("USER")

    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "TRACKER_HOME=/data" in " ".join(instruction("ENV")).split()


def test_dockerfile_starts_tracker_serve_on_all_interfaces():
    (cmd,) = instruction("CMD")
    argv = exec_form(cmd)

    assert argv[:2] == ["tracker", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "8000"
    check_invocation(argv)


def healthcheck_argv() -> list[str]:
    (arguments,) = instruction("HEALTHCHECK")
    return exec_form(arguments[arguments.index("CMD ") + 4 :])


def test_dockerfile_healthcheck_asks_healthz_with_python():
    argv = healthcheck_argv()

    assert argv[0] == "python"
    assert "http://127.0.0.1:8000/healthz" in argv[-1]
    # Compose runs the same check on the web service.
    assert service("web")["healthcheck"]["test"] == ["CMD", *argv]


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        body = json.dumps({"status": "ok" if code == 200 else "error"}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def health_server(status: int) -> Iterator[int]:
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_healthcheck(port: int) -> int:
    argv = healthcheck_argv()
    script = argv[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return subprocess.run(
        [sys.executable, *argv[1:-1], script], capture_output=True, timeout=30
    ).returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_dockerfile_healthcheck_passes_only_on_200(status: int, healthy: bool):
    with health_server(status) as port:
        assert (run_healthcheck(port) == 0) is healthy


def test_dockerfile_healthcheck_fails_when_nothing_listens():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert run_healthcheck(port) != 0


# --- systemd ---------------------------------------------------------------------------


def test_systemd_units_exist():
    names = {path.name for path in SYSTEMD.glob("*.service")}

    assert {*LONG_RUNNING_UNITS, "release-tracker-migrate.service"} <= names
    assert (SYSTEMD / "env.example").is_file()


def test_systemd_units_run_real_tracker_commands():
    expected = {
        "release-tracker.service": ["run"],
        "release-tracker-web.service": ["serve"],
        "release-tracker-worker@.service": ["worker"],
        "release-tracker-beat.service": ["beat"],
        "release-tracker-migrate.service": ["db", "upgrade"],
    }
    for name, path in expected.items():
        exec_start = unit(name)["Service"]["ExecStart"]

        assert check_invocation(shlex.split(exec_start)) == path, name


def test_systemd_units_read_the_environment_file_and_restart():
    for path in SYSTEMD.glob("*.service"):
        service_section = unit(path.name)["Service"]

        assert service_section["EnvironmentFile"] == "/etc/release-tracker/env", path.name
        assert service_section["User"] not in ("root", "0"), path.name
        if path.name in LONG_RUNNING_UNITS:
            # Whatever the exit status: a worker that lost its broker may exit with 0.
            assert service_section["Restart"] == "always", path.name
        else:
            assert service_section["Type"] == "oneshot", path.name


def test_systemd_units_are_sandboxed_and_may_write_tracker_home_only():
    tracker_home = env_example()["TRACKER_HOME"]
    for path in SYSTEMD.glob("*.service"):
        service_section = unit(path.name)["Service"]

        assert service_section["NoNewPrivileges"] == "yes", path.name
        assert service_section["ProtectSystem"] == "strict", path.name
        assert service_section["PrivateTmp"] == "yes", path.name
        assert service_section["ReadWritePaths"].split() == [tracker_home], path.name
        assert service_section["WorkingDirectory"] == tracker_home, path.name


def test_systemd_env_example_sets_only_real_settings():
    names = set(env_example())
    unknown = names - settings_variables() - OTHER_VARIABLES

    assert not unknown, f"{unknown} are not settings of the tracker"
    assert {"TRACKER_HOME", "TRACKER_DATABASE_URL", "TRACKER_BROKER_URL"} <= names


# --- every command named anywhere in deploy/ -------------------------------------------


def test_every_tracker_command_named_in_deploy_exists():
    # What runs: Compose commands, the image's CMD, the units' ExecStart (options parsed too).
    invoked = [spec["command"] for spec in compose()["services"].values() if "command" in spec]
    invoked = [argv for argv in invoked if argv[0] == "tracker"]
    invoked += [exec_form(cmd) for cmd in instruction("CMD")]
    units = SYSTEMD.glob("*.service")
    invoked += [shlex.split(unit(p.name)["Service"]["ExecStart"]) for p in units]
    named = [" ".join(check_invocation(argv)) for argv in invoked if argv]
    # What is written: `tracker …` in code spans and blocks of every file, comments included.
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        for words in named_commands(path.read_text(), markdown=path.suffix == ".md"):
            named.append(" ".join(resolve(words)[0]))

    # The scan finds what it should (a regex that matched nothing would pass vacuously).
    assert {"run", "serve", "worker", "beat", "db upgrade", "poll", "sources import"} <= set(named)
