"""moto's IAM/STS/S3 server on 127.0.0.1 for the playbook and remote-input tests, plus a fixture
channel.

Started by tests/emulator.rs with the virtual environment's python. Prints the port it listens on,
then reads one JSON request per line on stdin and answers one JSON line on stdout:

    {"service": "iam", "call": "create_role", "params": {...}, "account": "222222222222"?}
    -> {"ok": <boto3 response>} or {"error": {"code": ..., "message": ...}}

"account" acts in another account (through sts:AssumeRole, as moto maps assumed-role keys to the
role's account). boto3 decodes URL-encoded policy documents itself, so what the tests read back is
checked independently of trailhound's own decoding. When stdin closes (the test process ended,
however it ended) the server exits: no moto process outlives the test run.

Fixture calls beside boto3's (the channel is JSON, so object bodies never pass through it):

    {"service": "s3", "call": "upload_tree", "params": {"Bucket": B, "Dir": D, "Prefix": P, "Region": R?}}
        creates bucket B (in region R, default us-east-1) if needed and uploads every file under D
        with the key P + its path relative to D ('/' separated), bytes as they are on disk
        -> {"ok": {"Uploaded": n}}
    {"call": "requests", "params": {"Bucket": B?}}
        -> {"ok": [{"method", "path", "query", "status"}...]}: every HTTP request the server
        received (for bucket B only: path-style paths /B and /B/...), in arrival order
    {"call": "requests_reset", "params": {"Bucket": B?}}  forgets them (those of B only)
    {"call": "fault", "params": {"Path": P, "Count": n, "Status": 429, "Code": C}}
        the next n requests to path P (e.g. /findings/import, Security Hub's BatchImportFindings)
        answer HTTP Status with a JSON error of type C (a restJson1 service's error shape)

Faults, by bucket name (path-style requests only), answered before moto sees the request:

    denied-*   every request: 403 AccessDenied with S3's XML error body
    noget-*    GetObject (GET of a key): 403 AccessDenied; listing works
    flaky-*    the first GET of each object key: 503 SlowDown (the SDK retries it)
"""
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server.get_host_and_port()[1]

lock = threading.Lock()
seen = []  # (method, path, query, status)
flaky_done = set()
faults = {}  # path -> [count, status line, error code]


def s3_error(start_response, status, code, message):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>TRAILHOUNDTEST</RequestId><HostId>trailhound-test</HostId></Error>"
    ).encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                            ("x-amz-request-id", "TRAILHOUNDTEST")])
    return [body]


class Recorder:
    """WSGI middleware: records every request and injects the faults above."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "")
        path = unquote(environ.get("PATH_INFO", ""))
        query = environ.get("QUERY_STRING", "")
        parts = path.lstrip("/").split("/", 1)
        bucket = parts[0]
        key = parts[1] if len(parts) > 1 else ""
        status = [None]

        def recording_start_response(s, headers, exc_info=None):
            status[0] = int(s.split(" ", 1)[0])
            return start_response(s, headers, exc_info) if exc_info else start_response(s, headers)

        def record():
            with lock:
                seen.append({"method": method, "path": path, "query": query, "status": status[0]})

        try:
            with lock:
                fault = faults.get(path)
                if fault and fault[0] > 0:
                    fault[0] -= 1
                else:
                    fault = None
            if fault:
                body = json.dumps({"__type": fault[2], "message": "injected by serve.py"}).encode()
                recording_start_response(fault[1], [("Content-Type", "application/json"),
                                                    ("x-amzn-ErrorType", fault[2]),
                                                    ("Content-Length", str(len(body)))])
                return [body]
            if bucket.startswith("denied-"):
                return s3_error(recording_start_response, "403 Forbidden", "AccessDenied", "Access Denied")
            if bucket.startswith("noget-") and method == "GET" and key:
                return s3_error(recording_start_response, "403 Forbidden", "AccessDenied", "Access Denied")
            if bucket.startswith("flaky-") and method == "GET" and key:
                with lock:
                    first = (bucket, key) not in flaky_done
                    flaky_done.add((bucket, key))
                if first:
                    return s3_error(recording_start_response, "503 Slow Down", "SlowDown",
                                    "Please reduce your request rate.")
            return self.app(environ, recording_start_response)
        finally:
            record()


# werkzeug's request handler reads `server.app` for every request.
server._server.app = Recorder(server._server.app)
print(port, flush=True)

import boto3  # noqa: E402  (after the port is out: the tests wait for it)
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

url = f"http://127.0.0.1:{port}"
base = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=botocore.config.Config(s3={"addressing_style": "path"}, max_pool_connections=16))
clients = {}


def client(service, account):
    k = (service, account)
    if k not in clients:
        if account is None:
            clients[k] = boto3.client(service, **base)
        else:
            creds = boto3.client("sts", **base).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/fixture-admin", RoleSessionName="fixture")["Credentials"]
            clients[k] = boto3.client(service, endpoint_url=url, region_name="us-east-1",
                                      aws_access_key_id=creds["AccessKeyId"],
                                      aws_secret_access_key=creds["SecretAccessKey"],
                                      aws_session_token=creds["SessionToken"],
                                      config=base["config"])
    return clients[k]


def in_bucket(r, bucket):
    return bucket is None or r["path"] == f"/{bucket}" or r["path"].startswith(f"/{bucket}/")


def upload_tree(c, Bucket, Dir, Prefix="", Region=None):
    try:
        if Region and Region != "us-east-1":
            c.create_bucket(Bucket=Bucket, CreateBucketConfiguration={"LocationConstraint": Region})
        else:
            c.create_bucket(Bucket=Bucket)
    except botocore.exceptions.ClientError as e:
        if e.response["Error"].get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    files = []
    for top, dirs, names in os.walk(Dir):
        dirs.sort()
        for n in sorted(names):
            full = os.path.join(top, n)
            files.append((full, Prefix + os.path.relpath(full, Dir).replace(os.sep, "/")))

    def put(item):
        full, key = item
        with open(full, "rb") as f:
            c.put_object(Bucket=Bucket, Key=key, Body=f.read())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, files))
    return {"Uploaded": len(files)}


def fixture(req):
    call = req["call"]
    params = req.get("params", {})
    if call == "requests":
        with lock:
            return [r for r in seen if in_bucket(r, params.get("Bucket"))]
    if call == "requests_reset":
        with lock:
            seen[:] = [r for r in seen if not in_bucket(r, params.get("Bucket"))]
        return {}
    if call == "fault":
        status = {429: "429 Too Many Requests", 500: "500 Internal Server Error",
                  503: "503 Service Unavailable"}[params.get("Status", 429)]
        with lock:
            faults[params["Path"]] = [params.get("Count", 1), status,
                                      params.get("Code", "TooManyRequestsException")]
        return {}
    if call == "upload_tree":
        return upload_tree(client("s3", req.get("account")), **params)
    return None


for line in sys.stdin:
    try:
        req = json.loads(line)
        out = fixture(req)
        if out is None:
            c = client(req["service"], req.get("account"))
            out = getattr(c, req["call"])(**req.get("params", {}))
            out.pop("ResponseMetadata", None)
        reply = {"ok": out}
    except botocore.exceptions.ClientError as e:
        reply = {"error": {"code": e.response["Error"].get("Code"), "message": e.response["Error"].get("Message")}}
    except Exception as e:  # a bad request from a test: say so, keep serving
        reply = {"error": {"code": type(e).__name__, "message": str(e)}}
    sys.stdout.write(json.dumps(reply, default=str) + "\n")
    sys.stdout.flush()
os._exit(0)
