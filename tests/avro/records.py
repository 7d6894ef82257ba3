#!/usr/bin/python3
"""records.py: Avro records in Confluent's wire format, encoded and decoded by Debian's
python3-avro, an implementation independent of the avro serializer under test.

    records.py encode URL SUBJECT SCHEMA [DIR]   stdin: one datum a line (JSON, see below)
        registers SCHEMA (JSON text) under SUBJECT at the registry URL and prints, for each
        datum, the record: magic byte 0, the schema id (4 bytes, big-endian) and the datum's
        Avro binary encoding, as one line of hex; with DIR, writes record i to DIR/i.avro
        instead (`kcat -P -b ... -t TOPIC DIR/*.avro` produces one message a file).
    records.py register URL SUBJECT SCHEMA
        registers SCHEMA under SUBJECT and prints its id.
    records.py decode URL                  stdin: records as lines of hex
        prints for each record {"id": N, "value": datum} (JSON, conventions below), read
        with the writer schema that the registry gives for the record's id; a record that
        cannot be read prints {"error": "..."}.

A datum is JSON, with objects of one key for what JSON lacks: {"$bytes": "00ff"} (bytes and
fixed), {"$decimal": "-12.50"}, {"$date": "2024-02-29"}, {"$timestamp": "2024-02-29T12:00:
00.123456"} (UTC; a timestamp-millis or -micros), {"$float": "nan"} (also "inf", "-inf").
A union's value is written as is (python3-avro picks the branch).
"""
import datetime
import decimal
import io
import json
import sys
import urllib.error
import urllib.request
import warnings

import avro.io
import avro.schema

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def from_json(v):
    if isinstance(v, dict) and len(v) == 1:
        (k, x), = v.items()
        if k == "$bytes":
            return bytes.fromhex(x)
        if k == "$decimal":
            return decimal.Decimal(x)
        if k == "$date":
            return datetime.date.fromisoformat(x)
        if k == "$timestamp":
            return datetime.datetime.fromisoformat(x).replace(tzinfo=datetime.timezone.utc)
        if k == "$float":
            return float(x)
    if isinstance(v, dict):
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def to_json(v):
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, decimal.Decimal):
        return {"$decimal": str(v)}
    if isinstance(v, datetime.datetime):
        return {"$timestamp": v.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()}
    if isinstance(v, datetime.date):
        return {"$date": v.isoformat()}
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return {"$float": str(v)}
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def registry(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def register(url, subject, schema_text):
    avro.schema.parse(schema_text)
    return registry(url, "POST", f"/subjects/{urllib.request.quote(subject, safe='')}/versions",
                    {"schema": schema_text})["id"]


def encode(url, subject, schema_text, out_dir=None):
    schema = avro.schema.parse(schema_text)
    sid = register(url, subject, schema_text)
    writer = avro.io.DatumWriter(schema)
    n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        out = io.BytesIO()
        out.write(b"\0" + sid.to_bytes(4, "big"))
        writer.write(from_json(json.loads(line)), avro.io.BinaryEncoder(out))
        n += 1
        if out_dir is None:
            print(out.getvalue().hex())
            continue
        with open(f"{out_dir}/{n}.avro", "wb") as f:
            f.write(out.getvalue())


def decode(url):
    schemas = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        raw = bytes.fromhex(line.strip())
        try:
            if len(raw) < 5 or raw[0] != 0:
                raise ValueError("not a Confluent Avro record")
            sid = int.from_bytes(raw[1:5], "big")
            if sid not in schemas:
                schemas[sid] = avro.schema.parse(registry(url, "GET", f"/schemas/ids/{sid}")["schema"])
            body = io.BytesIO(raw[5:])
            value = avro.io.DatumReader(schemas[sid]).read(avro.io.BinaryDecoder(body))
            if body.tell() != len(raw) - 5:
                raise ValueError(f"{len(raw) - 5 - body.tell()} bytes after the datum")
            print(json.dumps({"id": sid, "value": to_json(value)}, sort_keys=True))
        except Exception as e:  # report, go on with the next record
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}))


def main():
    warnings.simplefilter("ignore")
    if len(sys.argv) in (5, 6) and sys.argv[1] == "encode":
        encode(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "register":
        print(register(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "decode":
        decode(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
