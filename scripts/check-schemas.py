#!/usr/bin/env python3
"""Check the wire-contract schemas, their examples, and a corpus of messages the Swift code produced.

Usage: python3 scripts/check-schemas.py [CORPUS_DIR]

1. Every schemas/*.schema.json is a valid JSON Schema 2020-12 document whose $id is
   BASE + its file name; all are loaded into one registry so that $refs between them resolve.
2. Every example schemas/examples/<schema name>/*.json is valid against <schema name>.schema.json,
   and every message schema has at least one example.
3. schemas/asyncapi.yaml is an AsyncAPI 3.0.0 document whose references all resolve, whose
   channels carry the contract's six topics, whose operations point at their channel's messages,
   whose payloads and headers name schemas of this folder, and whose message examples are valid.
   (A structural check written for this document, not the full AsyncAPI specification schema.)
4. With CORPUS_DIR: CORPUS_DIR/corpus.json lists messages written by the Swift tests. Produced
   messages (verdicts, headers, dossier events, autofill records) must be valid. For requests,
   the schema and the Swift reader must agree:
     - the reader made a request          -> the schema accepts;
     - the reader said invalid because of a rule the schema expresses -> the schema rejects;
     - the reader said invalid only because of rules beyond JSON Schema (BEYOND_SCHEMA below:
       region codes, serials, birth years, dates in the future, normalised name length)
                                           -> the schema accepts (it must not be stricter);
     - the reader dead-lettered a JSON value as not_object or missing_request_id -> the schema rejects.
   Verdict ids are recomputed here with Python's uuid5.

Exit status: 0 when everything holds, 1 when something does not, 3 when a dependency is missing.
"""

import json
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCHEMAS = os.path.join(ROOT, "schemas")
BASE = "https://schemas.tthc.example/identity/v1/"
VERDICT_NAMESPACE = uuid.UUID("88bf9d40-eeb6-4394-b014-4ae72b68a749")
TOPICS = {
    "tthc.identity.counter", "tthc.identity.registration", "tthc.identity.submission",
    "tthc.identity.verdicts", "tthc.identity.dead-letter", "tthc.dossier.events",
}
# (field, code) pairs the service checks but JSON Schema cannot express.
BEYOND_SCHEMA = {
    ("subject.idNumber", "unknown_region_code"),
    ("subject.idNumber", "invalid_serial"),
    ("subject.idNumber", "birth_year_mismatch"),
    ("subject.dateOfBirth", "out_of_range"),
    ("subject.fullName", "invalid_length"),
}
# Dead letters whose value is JSON that the request schemas must reject.
SCHEMA_REJECTED_DEAD_LETTERS = {"not_object", "missing_request_id"}


def missing(package, extra=""):
    sys.stderr.write(
        f"check-schemas: the Python package '{package}' is missing.\n"
        f"Install it with: pip install {package}{extra}\n"
        "(all of them at once: pip install 'jsonschema>=4.18' rfc3339-validator pyyaml)\n"
    )
    sys.exit(3)


try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    missing("jsonschema")
try:
    from referencing import Registry, Resource
except ImportError:
    missing("jsonschema", " (version 4.18 or later, which brings 'referencing')")
try:
    import yaml
except ImportError:
    missing("pyyaml")

FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
for required_format in ("date-time", "date", "uuid"):
    if required_format not in FORMAT_CHECKER.checkers:
        # jsonschema silently skips formats whose checker library is absent.
        missing("rfc3339-validator", " (jsonschema needs it to check the date-time format)")

problems = []


def problem(message):
    problems.append(message)


def load_schemas():
    schemas = {}
    for name in sorted(os.listdir(SCHEMAS)):
        if not name.endswith(".schema.json"):
            continue
        with open(os.path.join(SCHEMAS, name), encoding="utf-8") as handle:
            schema = json.load(handle)
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            problem(f"{name}: not a valid JSON Schema 2020-12: {error.message}")
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problem(f"{name}: $schema must be the 2020-12 meta-schema")
        if schema.get("$id") != BASE + name:
            problem(f"{name}: $id must be {BASE + name}")
        schemas[name[: -len(".schema.json")]] = schema
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values() if "$id" in schema
    )
    return schemas, registry


def validator(schemas, registry, stem):
    return Draft202012Validator(schemas[stem], registry=registry, format_checker=FORMAT_CHECKER)


def errors_of(validators, stem, instance):
    return sorted(validators[stem].iter_errors(instance), key=lambda error: list(error.absolute_path))


def describe(errors):
    return "; ".join(f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message[:160]}" for error in errors[:3])


def check_examples(schemas, validators):
    examples_dir = os.path.join(SCHEMAS, "examples")
    counted = {}
    for stem in sorted(os.listdir(examples_dir)):
        folder = os.path.join(examples_dir, stem)
        if not os.path.isdir(folder):
            continue
        if stem not in schemas:
            problem(f"examples/{stem}: no schema {stem}.schema.json")
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                instance = json.load(handle)
            errors = errors_of(validators, stem, instance)
            if errors:
                problem(f"examples/{stem}/{name}: not valid: {describe(errors)}")
            counted[stem] = counted.get(stem, 0) + 1
    for stem in schemas:
        if stem != "common" and not counted.get(stem):
            problem(f"{stem}.schema.json has no example under schemas/examples/{stem}/")
    return sum(counted.values())


def resolve_local(document, pointer):
    node = document
    for part in pointer.lstrip("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check_asyncapi(schemas, validators):
    path = os.path.join(SCHEMAS, "asyncapi.yaml")
    if not os.path.exists(path):
        problem("schemas/asyncapi.yaml is missing")
        return
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if document.get("asyncapi") != "3.0.0":
        problem("asyncapi.yaml: 'asyncapi' must be '3.0.0'")
    info = document.get("info") or {}
    if not info.get("title") or not info.get("version"):
        problem("asyncapi.yaml: info.title and info.version are required")

    def walk(node, where):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref.startswith("#"):
                    if resolve_local(document, ref) is None:
                        problem(f"asyncapi.yaml: {where}: $ref {ref} does not resolve")
                else:
                    file_part = ref.split("#", 1)[0]
                    if not os.path.exists(os.path.join(SCHEMAS, file_part)):
                        problem(f"asyncapi.yaml: {where}: $ref {ref} names a missing file")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(document, "#")

    def deref(node):
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            node = resolve_local(document, node["$ref"]) or {}
        return node

    channels = document.get("channels") or {}
    addresses = set()
    for name, channel in channels.items():
        channel = deref(channel)
        if not channel.get("address"):
            problem(f"asyncapi.yaml: channel {name} has no address")
        addresses.add(channel.get("address"))
        if not channel.get("messages"):
            problem(f"asyncapi.yaml: channel {name} has no messages")
    for topic in sorted(TOPICS - addresses):
        problem(f"asyncapi.yaml: no channel for topic {topic}")

    operations = document.get("operations") or {}
    if not operations:
        problem("asyncapi.yaml: no operations")
    for name, operation in operations.items():
        if operation.get("action") not in ("send", "receive"):
            problem(f"asyncapi.yaml: operation {name}: action must be send or receive")
        channel_ref = (operation.get("channel") or {}).get("$ref", "")
        if not channel_ref.startswith("#/channels/"):
            problem(f"asyncapi.yaml: operation {name}: channel must be a $ref to #/channels/...")
        for message in operation.get("messages") or []:
            if not message.get("$ref", "").startswith(channel_ref + "/messages/"):
                problem(f"asyncapi.yaml: operation {name}: message {message.get('$ref')} is not one of its channel's messages")

    messages = (document.get("components") or {}).get("messages") or {}
    checked = 0
    for name, message in messages.items():
        for part in ("payload", "headers"):
            multi = message.get(part)
            if multi is None:
                if part == "payload":
                    problem(f"asyncapi.yaml: message {name} has no payload")
                continue
            schema = multi.get("schema", multi) if isinstance(multi, dict) else {}
            ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
            stem = os.path.basename(ref.split("#", 1)[0])[: -len(".schema.json")] if ref.endswith(".schema.json") else None
            if stem not in schemas:
                problem(f"asyncapi.yaml: message {name} {part} must $ref a schema file of schemas/")
                continue
            for index, example in enumerate(message.get("examples") or []):
                if part in example:
                    errors = errors_of(validators, stem, example[part])
                    if errors:
                        problem(f"asyncapi.yaml: message {name} example {index} {part}: {describe(errors)}")
                    checked += 1
    return checked


def check_corpus(corpus_dir, validators):
    with open(os.path.join(corpus_dir, "corpus.json"), encoding="utf-8") as handle:
        corpus = json.load(handle)
    counts = {"produced": 0, "agree": 0, "beyond": 0, "deadLetters": 0, "skipped": 0}
    for entry in corpus["entries"]:
        name = entry["name"]
        with open(os.path.join(corpus_dir, entry["file"]), "rb") as handle:
            raw = handle.read()
        try:
            instance = json.loads(raw.decode("utf-8"))
            parsed = True
        except (UnicodeDecodeError, ValueError):
            parsed = False
        stem = entry["schema"]
        reader = entry.get("reader")

        if reader is None:  # a message the Swift code produced
            counts["produced"] += 1
            if not parsed:
                problem(f"corpus {name}: produced message is not JSON")
                continue
            errors = errors_of(validators, stem, instance)
            if errors:
                problem(f"corpus {name} ({stem}): produced message is not valid: {describe(errors)}")
            if stem == "verdict" and isinstance(instance, dict):
                request_id = instance.get("requestId", "")
                key = request_id
                if len(request_id) == 36 and all(request_id[i] == "-" for i in (8, 13, 18, 23)):
                    try:
                        key = str(uuid.UUID(request_id))  # a UUID counts in lowercase
                    except ValueError:
                        pass
                expected = str(uuid.uuid5(VERDICT_NAMESPACE, key))
                if instance.get("verdictId") != expected:
                    problem(f"corpus {name}: verdictId {instance.get('verdictId')} is not uuid5(namespace, requestId) = {expected}")
            continue

        if reader == "deadLetter":
            counts["deadLetters"] += 1
            if entry.get("deadLetterReason") in SCHEMA_REJECTED_DEAD_LETTERS:
                if not parsed:
                    problem(f"corpus {name}: dead letter {entry['deadLetterReason']} but not JSON for Python")
                elif not errors_of(validators, stem, instance):
                    problem(f"corpus {name}: the reader dead-lettered it ({entry['deadLetterReason']}) but {stem} accepts it")
            else:
                counts["skipped"] += 1
            continue

        if not parsed:
            problem(f"corpus {name}: the reader said {reader} but Python cannot parse it as JSON")
            continue
        errors = errors_of(validators, stem, instance)
        reasons = [tuple(reason.split(":", 1)) for reason in entry.get("reasons", [])]
        if reader == "request":
            if errors:
                problem(f"corpus {name}: the reader accepted it, {stem} rejects it: {describe(errors)}")
            counts["agree"] += 1
        elif reader == "invalid":
            beyond = all(reason in BEYOND_SCHEMA for reason in reasons)
            if beyond:
                counts["beyond"] += 1
                if errors:
                    problem(f"corpus {name}: invalid only for {entry['reasons']} (beyond JSON Schema), yet {stem} rejects it: {describe(errors)}")
            else:
                counts["agree"] += 1
                if not errors:
                    problem(f"corpus {name}: the reader said invalid {entry['reasons']}, {stem} accepts it")
        else:
            problem(f"corpus {name}: unknown reader result {reader!r}")
    return counts


def main():
    corpus_dir = sys.argv[1] if len(sys.argv) > 1 else None
    schemas, registry = load_schemas()
    validators = {stem: validator(schemas, registry, stem) for stem in schemas}
    examples = check_examples(schemas, validators)
    asyncapi_examples = check_asyncapi(schemas, validators) or 0
    summary = f"{len(schemas)} schemas, {examples} examples, {asyncapi_examples} AsyncAPI message examples"
    if corpus_dir:
        counts = check_corpus(corpus_dir, validators)
        summary += (
            f"; corpus: {counts['produced']} produced messages valid, {counts['agree']} requests where reader and schema agree,"
            f" {counts['beyond']} invalid only beyond JSON Schema, {counts['deadLetters']} dead letters"
            f" ({counts['skipped']} not expressible in JSON Schema)"
        )
    if problems:
        for message in problems:
            print("FAIL " + message)
        print(f"check-schemas: {len(problems)} problem(s); {summary}")
        return 1
    print(f"check-schemas: ok; {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
