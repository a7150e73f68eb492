"""An in-memory S3 standing in for the ``arn:aws:states:::aws-sdk:s3:*`` integrations of the example.

Register each bound method under its full resource ARN (``RESOURCES`` maps them). Responses and errors
follow the S3 API as Step Functions' SDK integrations return them: PascalCase fields, no ``Contents`` for
an empty bucket, ``S3.NoSuchKeyException`` / ``S3.NoSuchBucketException`` errors.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from express_engine.errors import CustomError

#: The buckets the module-level ``s3`` starts with: the backup lags behind the primary.
DEMO_BUCKETS: dict[str, dict[str, str]] = {
    "photos-primary": {
        "2024/01/beach.jpg": "beach pixels",
        "2024/01/hike.jpg": "hike pixels",
        "2024/02/city.jpg": "city pixels",
        "albums.json": '{"albums": ["beach", "hike", "city"]}',
    },
    "photos-backup": {
        "2024/01/beach.jpg": "beach pixels",
        "albums.json": '{"albums": ["beach"]}',
        "tmp/export-2023.zip": "old export",
    },
}
_LAST_MODIFIED = "2024-06-01T12:00:00Z"


def _etag(body: str) -> str:
    return '"' + hashlib.md5(body.encode(), usedforsecurity=False).hexdigest() + '"'


def _error(code: str, message: str, status: int) -> CustomError:
    return CustomError(f"S3.{code}Exception", f"{message} (Service: S3, Status Code: {status}, "
                                              f"Request ID: {uuid.uuid4().hex[:16].upper()})")


class FakeS3:
    """Buckets of text objects, with the four S3 calls the workflow makes."""

    def __init__(self, buckets: dict[str, dict[str, str]]) -> None:
        self.buckets = {name: dict(objects) for name, objects in buckets.items()}

    def _bucket(self, name: str) -> dict[str, str]:
        if name not in self.buckets:
            raise _error("NoSuchBucket", "The specified bucket does not exist", 404)
        return self.buckets[name]

    def list_objects_v2(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """ListObjectsV2 (first page of up to 1000 keys, in key order)."""
        objects = self._bucket(event["Bucket"])
        keys = sorted(objects)[:1000]
        out: dict[str, Any] = {"IsTruncated": False, "KeyCount": len(keys), "MaxKeys": 1000,
                               "Name": event["Bucket"], "Prefix": ""}
        if keys:  # S3 leaves Contents out for an empty listing
            out["Contents"] = [{"ETag": _etag(objects[k]), "Key": k, "LastModified": _LAST_MODIFIED,
                                "Size": len(objects[k].encode()), "StorageClass": "STANDARD"} for k in keys]
        return out

    def head_object(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """HeadObject: the object's metadata, or S3.NoSuchKeyException."""
        objects = self._bucket(event["Bucket"])
        if event["Key"] not in objects:
            raise _error("NoSuchKey", "The specified key does not exist.", 404)
        body = objects[event["Key"]]
        return {"ContentLength": len(body.encode()), "ContentType": "application/octet-stream",
                "ETag": _etag(body), "LastModified": _LAST_MODIFIED}

    def copy_object(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """CopyObject from ``CopySource`` (``bucket/key``) to ``Bucket``/``Key``."""
        source_bucket, _, source_key = event["CopySource"].partition("/")
        source = self._bucket(source_bucket)
        if source_key not in source:
            raise _error("NoSuchKey", "The specified key does not exist.", 404)
        self._bucket(event["Bucket"])[event["Key"]] = source[source_key]
        return {"CopyObjectResult": {"ETag": _etag(source[source_key]), "LastModified": _LAST_MODIFIED}}

    def delete_object(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """DeleteObject (succeeds for a missing key too, as S3 does)."""
        self._bucket(event["Bucket"]).pop(event["Key"], None)
        return {}

    def handlers(self) -> dict[str, Any]:
        """Resource ARN -> handler, ready for ``Engine.register_handler``."""
        prefix = "arn:aws:states:::aws-sdk:s3:"
        return {prefix + action: getattr(self, method) for action, method in RESOURCES}


#: (S3 action in the resource ARN, FakeS3 method).
RESOURCES = (("listObjectsV2", "list_objects_v2"), ("headObject", "head_object"),
             ("copyObject", "copy_object"), ("deleteObject", "delete_object"))

#: The store the CLI handlers below use (one process = one run of the example).
s3 = FakeS3(DEMO_BUCKETS)
list_objects_v2 = s3.list_objects_v2
head_object = s3.head_object
copy_object = s3.copy_object
delete_object = s3.delete_object
