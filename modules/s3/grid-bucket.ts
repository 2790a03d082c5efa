// The one construct that makes the grid's S3 buckets, so every bucket gets the same hardening: versioning,
// SSE-KMS with a grid key (bucket key on), all public access blocked, ACLs disabled, TLS-only policy.
import { Construct } from "constructs";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import type { S3BucketLifecycleConfigurationRule } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import type { GridKey } from "../kms/grid-key";

export interface GridBucketProps {
  /** Physical bucket name, from `GridNames.bucketName`. */
  readonly bucketName: string;
  /** The grid key every object is encrypted with. */
  readonly key: GridKey;
  /** Delete the bucket even when it still holds objects. @default false */
  readonly forceDestroy?: boolean;
  /** Days after which current objects (and noncurrent versions) expire; 0 = never. @default 0 */
  readonly expirationDays?: number;
}

const DEFAULTS = {
  forceDestroy: false,
  expirationDays: 0,
  /** Parts of abandoned multipart uploads are billed until aborted; a week covers any real upload. */
  abortIncompleteMultipartDays: 7,
} as const;

/** A private, versioned, KMS-encrypted bucket that only accepts TLS and only objects under its own key. */
export class GridBucket extends Construct {
  public readonly bucket: S3Bucket;
  public readonly policy: S3BucketPolicy;
  public readonly encryption: S3BucketServerSideEncryptionConfigurationA;
  public readonly versioning: S3BucketVersioningA;
  public readonly publicAccessBlock: S3BucketPublicAccessBlock;
  /** Bucket name (token-free when the name is; account-id tokens stay tokens). */
  public readonly name: string;
  public readonly arn: string;

  constructor(scope: Construct, id: string, props: GridBucketProps) {
    super(scope, id);
    const expirationDays = props.expirationDays ?? DEFAULTS.expirationDays;
    this.bucket = new S3Bucket(this, "bucket", {
      bucket: props.bucketName,
      forceDestroy: props.forceDestroy ?? DEFAULTS.forceDestroy,
    });
    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;

    this.versioning = new S3BucketVersioningA(this, "versioning", {
      bucket: this.bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    this.encryption = new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket: this.bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.key.arn },
          // One data key per bucket instead of one KMS call per object: cheaper and avoids KMS throttling.
          bucketKeyEnabled: true,
        },
      ],
    });
    this.publicAccessBlock = new S3BucketPublicAccessBlock(this, "public-access", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "ownership", {
      bucket: this.bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });

    const objects = `${this.bucket.arn}/*`;
    const statements = [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [this.bucket.arn, objects],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "DenyOutdatedTls",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [this.bucket.arn, objects],
        Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
      },
      // A request that names an encryption must name SSE-KMS with this bucket's key (upstream defect 6: uploads
      // asking for AES256 are refused instead of silently stored under another scheme). A request that names
      // none gets the bucket default, which is this key, so every object ends up under the grid's key.
      {
        Sid: "DenyEncryptionOtherThanKms",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: objects,
        Condition: {
          StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
          Null: { "s3:x-amz-server-side-encryption": "false" },
        },
      },
      {
        Sid: "DenyOtherKmsKeys",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: objects,
        Condition: {
          StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": props.key.arn },
          Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
        },
      },
    ];
    this.policy = new S3BucketPolicy(this, "policy", {
      bucket: this.bucket.id,
      policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
      // S3 rejects a policy put that races the public-access-block put ("conflicting conditional operation").
      dependsOn: [this.publicAccessBlock],
    });

    const rules: S3BucketLifecycleConfigurationRule[] = [
      {
        id: "abort-incomplete-multipart-uploads",
        status: "Enabled",
        filter: [{ prefix: "" }],
        abortIncompleteMultipartUpload: [{ daysAfterInitiation: DEFAULTS.abortIncompleteMultipartDays }],
      },
    ];
    if (expirationDays > 0) {
      rules.push({
        id: "expire-objects",
        status: "Enabled",
        filter: [{ prefix: "" }],
        expiration: [{ days: expirationDays }],
        noncurrentVersionExpiration: [{ noncurrentDays: expirationDays }],
      });
    }
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: this.bucket.id,
      rule: rules,
      // Lifecycle rules on a versioned bucket need versioning configured first.
      dependsOn: [this.versioning],
    });
  }
}
