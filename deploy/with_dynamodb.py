"""Run a command with one embedded DynamoDB (a moto server on 127.0.0.1) that its jobs
share: each embedded table is then made on it (service/ops/local.py, SHARED_DYNAMODB_ENV)
instead of on a server of its own.

    .venv/bin/python deploy/with_dynamodb.py COMMAND [ARG ...]

make test-deploy runs under it: its ~12 package traces and checks and its offline
stacks would each start and stop a server. Exits with the command's status; the server
stops with it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from service.ops.local import SHARED_DYNAMODB_ENV, dynamodb_server


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    with dynamodb_server() as endpoint:
        return subprocess.run(argv, env=os.environ | {SHARED_DYNAMODB_ENV: endpoint}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
