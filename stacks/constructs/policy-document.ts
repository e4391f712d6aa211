import { DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js";
import type { Construct } from "constructs";

/** Trust policy letting one AWS service assume a role, limited to our own account (confused-deputy guard). */
export function serviceTrustPolicy(scope: Construct, id: string, service: string, accountId: string): DataAwsIamPolicyDocument {
  return new DataAwsIamPolicyDocument(scope, id, {
    statement: [
      {
        sid: "AssumedByService",
        effect: "Allow",
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: [service] }],
        ...(service === "ec2.amazonaws.com" ? {} : { condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [accountId] }] }),
      },
    ],
  });
}

export function policyDocument(scope: Construct, id: string, statement: DataAwsIamPolicyDocumentStatement[]): DataAwsIamPolicyDocument {
  return new DataAwsIamPolicyDocument(scope, id, { statement });
}
