"""Attack a secured actuator the way issue 8 did, and count bypasses and leaks.

Runs ``benchmarks.attack_app`` under a real uvicorn on 127.0.0.1 (nothing else
is contacted) and tries, each with a bounded number of requests:

- **paths and methods**: encoded, doubled, dotted, cased and suffixed paths to
  every protected endpoint, with every method and with header tricks
  (``X-HTTP-Method-Override``, ``X-Original-URL``, forged ``X-Forwarded-For``,
  empty or garbage credentials, a token without a role), sent as raw bytes so
  no client normalises them. A *bypass* is a 2xx answer from a protected
  endpoint to a caller without the role, or any request that reaches the app;
- **token timing**: wrong tokens sharing a long prefix with a real one against
  random ones, interleaved: the difference of medians against the noise;
- **hostile bodies**: deep nesting, huge integers, bad UTF-8, wrong types,
  oversized and chunked bodies: every answer must be a 4xx JSON error;
- **leaks**: canary secrets in the environment, in exception texts, health
  details and info sections, and the credential hashes in the settings: none
  may appear in any answer (read with the most privileged token) or log line;
- **log forging**: paths with ``%0A`` and bad credentials: no log line may begin
  with the forged text;
- **hostile results**: a circular and a 100k-key indicator, a circular
  contributor: health and info still answer (never 500);
- **cardinality**: 1,000 distinct app paths and 200 unknown endpoints: the
  ``uri`` label of the HTTP metrics stays bounded;
- **floods**: 400 concurrent health probes, 100 slowloris connections during
  probes, 20 concurrent HTTP basic attempts (memory before, after and peak),
  and repeated failures from one address (429 with ``Retry-After``).

::

    python -m benchmarks.attacks            # prints the counts and a JSON summary
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import random
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from actuator import generate_token, hash_password, hash_token
from tests.support.server import UvicornProcess

CANARY = "Canary-Zm9v/YmFy"
PASSWORD = "correct horse battery staple"
READER, ADMIN, NOBODY = generate_token(), generate_token(), generate_token()
PROTECTED = [
    "env",
    "info",
    "metrics",
    "prometheus",
    "loggers",
    "threaddump",
    "mappings",
    "shutdown",
    "beans",
    "heapdump",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get", "FOO"]


def settings_env(limits: bool) -> dict[str, str]:
    tokens = {
        "monitoring": hash_token(READER),
        "sre.admin": hash_token(ADMIN),
        "nobody": hash_token(NOBODY),
    }
    env = {
        "ACTUATOR_EXPOSURE__INCLUDE": '["*"]',
        "ACTUATOR_ACCESS__DEFAULT": "unrestricted",
        "ACTUATOR_SHUTDOWN__ENABLED": "true",
        "ACTUATOR_SHUTDOWN__MAX_JITTER": "3600",
        "ACTUATOR_SHUTDOWN__DRAIN_PERIOD": "3600",
        "ACTUATOR_HEALTH__SHOW_DETAILS": "when_authorized",
        "ACTUATOR_ENV__SHOW_VALUES": "when_authorized",
        "ACTUATOR_INFO__BUILD_FILE": "",
        "ACTUATOR_METRICS__MAX_URI_TAGS": "100",
        "ACTUATOR_SECURITY__TOKENS": json.dumps(tokens),
        "ACTUATOR_SECURITY__USERS": json.dumps({"ops": hash_password(PASSWORD)}),
        "ACTUATOR_SECURITY__ROLES__FULL": '["sre\\\\..*"]',
        "ACTUATOR_SECURITY__ROLES__READ": '["monitoring", "ops"]',
        "ATTACK_SECRET": CANARY,
        "DB_PASS": CANARY,
        "MYSQL_PWD": CANARY,
        "SESSION_COOKIE": CANARY,
        "GITHUB_PAT": CANARY,
        "STRIPE_SK": CANARY,
        "API_PWD": CANARY,
        "DATABASE_URL": f"postgres://app:{CANARY}@db/app",
        "PG_DSN": f"host=db password={CANARY}",
        "JDBC_URL": f"jdbc:mysql://db/app?user=a&password={CANARY}",
        "MSSQL": f"Server=db;Password={CANARY};",
        "BLOB_URL": f"https://acct.blob/c?sv=1&sig={CANARY}",
        "APP_CONFIG": json.dumps({"db": {"password": CANARY}}),
    }
    if not limits:
        env["ACTUATOR_SECURITY__MAX_FAILED_ATTEMPTS"] = "0"
    return env


# -- raw HTTP ---------------------------------------------------------------------------


async def raw(port: int, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``request`` as it is; ``(status, whole answer)`` (status 0: no answer)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0, b""
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(1 << 20), timeout)
        while data and b"\r\n\r\n" in data and not _complete(data):
            more = await asyncio.wait_for(reader.read(1 << 20), timeout)
            if not more:
                break
            data += more
    except (OSError, asyncio.TimeoutError):
        return 0, b""
    finally:
        writer.close()
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(match.group(1)) if match else 0), data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return length is None or len(body) >= int(length.group(1))


def request_bytes(
    method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body and not any(k.lower() == "transfer-encoding" for k in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def bounded(jobs: list[Any], limit: int = 16) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


# -- attacks ------------------------------------------------------------------------------


def path_variants(name: str) -> Iterator[str]:
    encoded = "".join(f"%{ord(c):02X}" for c in name)
    yield from [
        f"/actuator/{name}",
        f"/actuator/{name}/",
        f"//actuator/{name}",
        f"/actuator//{name}",
        f"/ACTUATOR/{name}",
        f"/actuator/{name.upper()}",
        f"/actuator/{name};x",
        f"/actuator;x/{name}",
        f"/actuator/./{name}",
        f"/actuator/x/../{name}",
        f"/actuator/%2e%2e/actuator/{name}",
        f"/actuator/{encoded}",
        f"/actuator/{name}%00",
        f"/actuator/{name}%2f",
        f"/actuator%2f{name}",
        f"/actuator/health/../{name}",
        f"/actuator/health/..%2f{name}",
        f"/actuator/health%2f..%2f{name}",
        f"/actuator\\{name}",
        f"/actuator/{name}?",
        f"/actuator/{name}%20",
        f"/actuator/{name}.json",
        f"/actuator/health;/../{name}",
        f"/actuator/{name}/..",
        f"http://127.0.0.1/actuator/{name}",
        f"/actuator/{name}%0a",
        f"/actuator/%2e/{name}",
        f"/./actuator/{name}",
    ]


HEADER_TRICKS: list[dict[str, str]] = [
    {"X-HTTP-Method-Override": "GET"},
    {"X-Original-URL": "/actuator/health"},
    {"X-Rewrite-URL": "/actuator/health"},
    {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"},
    {"X-Forwarded-Prefix": "/actuator/health"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic !!!"},
    {"Authorization": "Basic " + base64.b64encode(b"ops:").decode()},
    {"Authorization": f"Bearer {NOBODY}"},
    {"Authorization": f"bearer {NOBODY}", "X-Authenticated-User": "sre.admin"},
]


async def paths_and_methods(port: int) -> dict[str, Any]:
    jobs, labels = [], []
    for name in PROTECTED:
        for target in path_variants(name):
            for method in METHODS:
                jobs.append(raw(port, request_bytes(method, target)))
                labels.append((method, target, "-"))
            for trick in HEADER_TRICKS:
                jobs.append(raw(port, request_bytes("GET", target, trick)))
                labels.append(("GET", target, next(iter(trick))))
    answers = await bounded(jobs)
    bypasses = []
    passed_on = 0
    for (method, target, trick), (status, data) in zip(labels, answers, strict=True):
        if status == 299:
            # The app got it: fine for a path outside the base path (//actuator/env is
            # the app's), a bypass if the path it saw is under the base path.
            seen = data.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")
            passed_on += 1
            if seen == "/actuator" or seen.startswith("/actuator/"):
                bypasses.append(f"{method} {target} [{trick}] reached the app as {seen}")
        elif 200 <= status < 300 and method.upper() != "OPTIONS":
            bypasses.append(f"{method} {target} [{trick}] -> {status}")
    statuses: dict[int, int] = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "variants": len(jobs),
        "bypasses": len(bypasses),
        "examples": bypasses[:5],
        "outside_base_path_to_app": passed_on,
        "statuses": dict(sorted(statuses.items())),
    }


async def token_timing(url: str, rounds: int = 300) -> dict[str, Any]:
    near = ADMIN[:-3] + ("AAA" if not ADMIN.endswith("AAA") else "BBB")  # shares 40 chars
    groups: dict[str, list[float]] = {"near": [], "random": [], "valid": []}
    tokens = {"near": near, "random": generate_token(), "valid": READER}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(rounds):
            for group in random.sample(list(groups), len(groups)):
                started = time.perf_counter()
                await client.get(
                    "/actuator/ping", headers={"Authorization": f"Bearer {tokens[group]}"}
                )
                groups[group].append(time.perf_counter() - started)
    medians = {g: statistics.median(v) * 1e6 for g, v in groups.items()}
    spread = statistics.median(abs(x * 1e6 - medians["random"]) for x in groups["random"])
    difference = abs(medians["near"] - medians["random"])
    return {
        "requests": rounds * len(groups),
        "median_us": {g: round(m, 1) for g, m in medians.items()},
        "near_vs_random_us": round(difference, 1),
        "noise_mad_us": round(spread, 1),
        "signal": difference > spread,
    }


def hostile_bodies() -> list[tuple[str, dict[str, str], bytes]]:
    json_type = {"Content-Type": "application/json"}
    return [
        ("deep list", json_type, b"[" * 100_000 + b"]" * 100_000),
        ("deep object", json_type, b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
        ("huge int", json_type, b'{"configuredLevel": ' + b"9" * 5_000 + b"}"),
        ("huge float", json_type, b'{"configuredLevel": 1e999999}'),
        ("bad utf-8", json_type, b'{"configuredLevel": "\xff\xfe"}'),
        ("NaN", json_type, b'{"configuredLevel": NaN}'),
        ("wrong type", json_type, b'{"configuredLevel": {"a": [1, 2]}}'),
        ("array", json_type, b"[1, 2, 3]"),
        ("unknown field", json_type, b'{"configuredLevel": "DEBUG", "x": 1}'),
        ("duplicate keys", json_type, b'{"configuredLevel": "DEBUG", "configuredLevel": 5}'),
        ("truncated", json_type, b'{"configuredLevel": "DEB'),
        ("text type", {"Content-Type": "text/plain"}, b'{"configuredLevel": "DEBUG"}'),
        ("oversized", json_type, b'{"a": "' + b"x" * 200_000 + b'"}'),
        ("bad length", {**json_type, "Content-Length": "abc"}, b"{}"),
        (
            "chunked garbage",
            {**json_type, "Transfer-Encoding": "chunked"},
            b"zz\r\n{}\r\n0\r\n\r\n",
        ),
        ("control chars", json_type, b'{"configuredLevel": "DEBUG\\n\\u0000"}'),
        ("long string", json_type, b'{"configuredLevel": "' + b"D" * 60_000 + b'"}'),
    ]


async def bodies(port: int) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    failures = []
    by_server = 0
    tried = 0
    for target in ("/actuator/loggers/ROOT", "/actuator/shutdown"):
        for name, headers, body in hostile_bodies():
            if target.endswith("shutdown") and name in ("wrong type", "unknown field"):
                continue  # a valid body there would really schedule the shutdown
            tried += 1
            status, data = await raw(port, request_bytes("POST", target, {**auth, **headers}, body))
            head, _, payload = data.partition(b"\r\n\r\n")
            is_json = b"application/json" in head.lower()
            if status == 400 and not is_json:
                # Refused by uvicorn's HTTP parser (bad Content-Length, bad chunk size):
                # the actuator answers every error in JSON, the server in plain text.
                by_server += 1
            elif not 400 <= status < 500 or not is_json or b"Traceback" in payload:
                failures.append(f"{name} -> {status} on {target}")
    return {
        "bodies": tried,
        "not_a_json_4xx": len(failures),
        "refused_by_server": by_server,
        "examples": failures[:5],
    }


async def leaks(url: str, hashes: list[str]) -> dict[str, Any]:
    paths = [
        "/actuator",
        "/actuator/env",
        "/actuator/health",
        "/actuator/health/db",
        "/actuator/health/cache",
        "/actuator/info",
        "/actuator/env/DB_PASS",
        "/actuator/env/ACTUATOR_SECURITY__USERS",
        "/actuator/env/security.users.ops",
        "/actuator/env/DATABASE_URL",
        "/actuator/threaddump",
        "/actuator/mappings",
        "/actuator/loggers",
        "/actuator/metrics",
    ]
    found = []
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        for token in (ADMIN, READER):
            for path in paths:
                for accept in ("application/json", "application/health+json"):
                    answer = await client.get(
                        path, headers={"Authorization": f"Bearer {token}", "Accept": accept}
                    )
                    for secret in (CANARY, *hashes):
                        if secret in answer.text:
                            found.append(f"{path} ({accept}) shows {secret[:12]}...")
    return {"answers": len(paths) * 4, "leaks": len(found), "examples": found[:5]}


async def hostile_results(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        auth = {"Authorization": f"Bearer {READER}"}
        health = await client.get("/actuator/health", headers=auth)
        info = await client.get("/actuator/info", headers=auth)
    components = health.json().get("components", {})
    return {
        "health_status": health.status_code,
        "info_status": info.status_code,
        "circular": components.get("circular", {}).get("status"),
        "huge_details": list(components.get("huge", {}).get("details", {})),
        "circular_info": info.json().get("circular"),
        "ok": health.status_code in (200, 503) and info.status_code == 200,
    }


async def log_forging(port: int) -> int:
    forged = "/actuator/health/x%0Apause%20by%20operator%20at%202026-01-01%0D%0Ashutdown%20by%20sre"
    jobs = [
        raw(port, request_bytes("GET", forged, {"Authorization": "Bearer " + "x" * 43})),
        raw(
            port,
            request_bytes(
                "POST",
                "/actuator/loggers/x%0Ay",
                {
                    "Authorization": f"Bearer {ADMIN}",
                    "Content-Type": "application/json",
                    "User-Agent": "evil\r\npause by operator",
                },
                b'{"configuredLevel": "INFO"}',
            ),
        ),
    ]
    await asyncio.gather(*jobs)
    return len(jobs)


async def cardinality(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        await bounded([client.get(f"/app/{i}/{random.random()}") for i in range(1_000)])
        await bounded([client.get(f"/actuator/unknown{i}") for i in range(200)])
        text = (
            await client.get("/actuator/prometheus", headers={"Authorization": f"Bearer {READER}"})
        ).text
    uris = set(re.findall(r'http_server_requests_seconds_count\{[^}]*uri="([^"]*)"', text))
    return {"requests": 1_200, "distinct_uri_labels": len(uris)}


async def floods(url: str, port: int) -> dict[str, Any]:
    async def slowloris() -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        try:
            writer.write(b"GET /actuator/health HTTP/1.1\r\nHost: x\r\n")
            for _ in range(5):
                await asyncio.sleep(1)
                writer.write(b"X-a: b\r\n")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    limits = httpx.Limits(max_connections=400)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
        slow = [asyncio.ensure_future(slowloris()) for _ in range(100)]
        answers = await asyncio.gather(
            *(client.get("/actuator/health/liveness") for _ in range(400)), return_exceptions=True
        )
        await asyncio.gather(*slow)
    answered = sum(1 for a in answers if isinstance(a, httpx.Response) and a.status_code == 200)
    return {"probes": len(answers), "answered_200": answered, "slowloris": 100}


def memory(pid: int) -> dict[str, int]:
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) // 1024
    return found


async def basic_flood(url: str, pid: int) -> dict[str, Any]:
    def basic(i: int) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"ops:guess{i}".encode()).decode()}

    before = memory(pid)
    async with httpx.AsyncClient(
        base_url=url, timeout=30, limits=httpx.Limits(max_connections=20)
    ) as client:
        health = await asyncio.gather(
            *(client.get("/actuator/health", headers=basic(i)) for i in range(20))
        )
        info = await asyncio.gather(
            *(client.get("/actuator/info", headers=basic(i)) for i in range(20))
        )
        later = [
            await client.get("/actuator/info", headers={"Authorization": "Bearer " + str(i) * 43})
            for i in range(12)
        ]
    after = memory(pid)

    def count(answers: list[httpx.Response]) -> dict[int, int]:
        counted: dict[int, int] = {}
        for answer in answers:
            counted[answer.status_code] = counted.get(answer.status_code, 0) + 1
        return dict(sorted(counted.items()))

    limited = [a for a in later if a.status_code == 429]
    return {
        "health": count(health),
        "info": count(info),
        "repeated_failures": count(later),
        "retry_after": limited[0].headers.get("retry-after") if limited else None,
        "rss_before_mib": before["VmRSS"],
        "rss_after_mib": after["VmRSS"],
        "peak_mib": after["VmHWM"],
    }


# -- run ----------------------------------------------------------------------------------


async def attack(server: UvicornProcess, hashes: list[str]) -> dict[str, Any]:
    assert server.port is not None
    port, url = server.port, server.url
    return {
        "paths_and_methods": await paths_and_methods(port),
        "token_timing": await token_timing(url),
        "hostile_bodies": await bodies(port),
        "leaks": await leaks(url, hashes),
        "hostile_results": await hostile_results(url),
        "log_forging_requests": await log_forging(port),
        "cardinality": await cardinality(url),
        "floods": await floods(url, port),
    }


def main() -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc={os.cpu_count()}, "
        f"{cpu}, Python {platform.python_version()}"
    )
    env = settings_env(limits=False)
    hashes = [
        *json.loads(env["ACTUATOR_SECURITY__TOKENS"]).values(),
        *json.loads(env["ACTUATOR_SECURITY__USERS"]).values(),
    ]
    with UvicornProcess(
        "benchmarks.attack_app:app", env=env, args=["--log-level", "info", "--no-access-log"]
    ) as server:
        results = asyncio.run(attack(server, hashes))
        time.sleep(0.5)
        output = server.output
    with UvicornProcess(
        "benchmarks.attack_app:app", env=settings_env(limits=True), args=["--no-access-log"]
    ) as limited:
        assert limited.process is not None
        results["basic_flood"] = asyncio.run(basic_flood(limited.url, limited.process.pid))
        output += limited.output
    log_lines = output.splitlines()
    results["logs"] = {
        "lines": len(log_lines),
        "leaks": sum(CANARY in line or any(h in line for h in hashes) for line in log_lines),
        "forged": sum(line.startswith(("pause by", "shutdown by")) for line in log_lines),
        "escaped": sum("\\x0apause by operator" in line for line in log_lines),
    }
    summary = {
        "variants": results["paths_and_methods"]["variants"],
        "bypasses": results["paths_and_methods"]["bypasses"],
        "leaks": results["leaks"]["leaks"] + results["logs"]["leaks"],
        "forged_log_lines": results["logs"]["forged"],
        "bodies_not_a_json_4xx": results["hostile_bodies"]["not_a_json_4xx"],
        "token_timing_signal": results["token_timing"]["signal"],
    }
    print(json.dumps(results, indent=2))
    print("summary:", json.dumps(summary))


if __name__ == "__main__":
    main()
