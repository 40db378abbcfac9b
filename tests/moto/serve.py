"""moto's IAM/STS/S3 server on 127.0.0.1 for the playbook tests, plus a fixture channel.

Started by tests/playbook.rs with the virtual environment's python. Prints the port it listens on,
then reads one JSON request per line on stdin and answers one JSON line on stdout:

    {"service": "iam", "call": "create_role", "params": {...}, "account": "222222222222"?}
    -> {"ok": <boto3 response>} or {"error": {"code": ..., "message": ...}}

"account" acts in another account (through sts:AssumeRole, as moto maps assumed-role keys to the
role's account). boto3 decodes URL-encoded policy documents itself, so what the tests read back is
checked independently of trailhound's own decoding. When stdin closes (the test process ended,
however it ended) the server exits: no moto process outlives the test run.
"""
import json
import os
import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server.get_host_and_port()[1]
print(port, flush=True)

import boto3  # noqa: E402  (after the port is out: the tests wait for it)
import botocore.exceptions  # noqa: E402

url = f"http://127.0.0.1:{port}"
base = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
            aws_secret_access_key="testing")
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
                                      aws_session_token=creds["SessionToken"])
    return clients[k]


for line in sys.stdin:
    try:
        req = json.loads(line)
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
