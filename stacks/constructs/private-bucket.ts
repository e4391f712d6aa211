import type { DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket/index.js";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy/index.js";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js";
import { S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js";
import { S3BucketVersioningA as S3BucketVersioning } from "@cdktf/provider-aws/lib/s3-bucket-versioning/index.js";
import { Construct } from "constructs";
import { policyDocument } from "./policy-document.js";

export interface PrivateBucketProps {
  readonly bucketName: string;
  /** Keep every version of every object: revisions must stay retrievable by version id for rollback. */
  readonly versioned: boolean;
  /** Days after which superseded versions (versioned) or objects (unversioned) expire. */
  readonly expireAfterDays: number;
  /** Statements added to the bucket policy after the TLS-only guard (e.g. log delivery), given the bucket's ARN. */
  readonly extraPolicyStatements?: (bucketArn: string) => DataAwsIamPolicyDocumentStatement[];
}

/**
 * An S3 bucket no one can make public: all public access blocked, ACLs disabled (bucket owner
 * enforced), encrypted at rest, TLS-only, with a lifecycle rule so it does not grow forever.
 * SSE-S3 rather than KMS: CLB access logs only support SSE-S3, and it keeps cross-account
 * promotion of revisions free of key grants.
 */
export class PrivateBucket extends Construct {
  public readonly bucket: S3Bucket;
  public readonly policy: S3BucketPolicy;

  constructor(scope: Construct, id: string, props: PrivateBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, "bucket", { bucket: props.bucketName, forceDestroy: false });

    new S3BucketPublicAccessBlock(this, "public-access-block", {
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
    new S3BucketServerSideEncryptionConfiguration(this, "encryption", {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    });
    const versioning = props.versioned ? new S3BucketVersioning(this, "versioning", { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } }) : undefined;
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: this.bucket.id,
      dependsOn: versioning ? [versioning] : [],
      rule: [
        {
          id: props.versioned ? "expire-superseded-versions" : "expire-objects",
          status: "Enabled",
          filter: [{ prefix: "" }],
          ...(props.versioned ? { noncurrentVersionExpiration: [{ noncurrentDays: props.expireAfterDays }] } : { expiration: [{ days: props.expireAfterDays }] }),
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });

    const document = policyDocument(this, "policy-document", [
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        actions: ["s3:*"],
        resources: [this.bucket.arn, `${this.bucket.arn}/*`],
        principals: [{ type: "*", identifiers: ["*"] }],
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
      },
      ...(props.extraPolicyStatements?.(this.bucket.arn) ?? []),
    ]);
    this.policy = new S3BucketPolicy(this, "policy", { bucket: this.bucket.id, policy: document.json });
  }
}
