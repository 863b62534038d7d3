"""Expands infra/template.yaml with the AWS SAM translator, as `sam deploy` would, into plain
CloudFormation JSON (used by tests/infra_lint.rs, which then lints the result).

Usage: python sam_transform.py <template.yaml> <out.json>

Local artifacts are replaced by placeholders the way `sam package` replaces them with uploaded
ones: CodeUri -> an S3 zip, image functions -> an ECR image URI, DefinitionUri -> an S3 object.
Exits non-zero with the translator's errors when the template is invalid.
"""

import json
import os
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ARTIFACTS = "kernel-packer-artifacts"


class NoManagedPolicies:
    """The template uses inline policies only; no managed policy name needs resolving."""

    def load(self):
        return {}


def main(src, dst):
    with open(src, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if props.get("PackageType") == "Image":
                props["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/kernel-packer:" + name
            else:
                props["CodeUri"] = "s3://%s/%s.zip" % (ARTIFACTS, name)
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["DefinitionUri"] = {"Bucket": ARTIFACTS, "Key": name + ".asl.json"}
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        out = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print("%s: %s" % (src, cause.message), file=sys.stderr)
        return 1
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
