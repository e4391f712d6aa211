import { DataAwsElbServiceAccount } from "@cdktf/provider-aws/lib/data-aws-elb-service-account/index.js";
import { Elb } from "@cdktf/provider-aws/lib/elb/index.js";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments/index.js";
import { PrivateBucket } from "./private-bucket.js";

export interface LoadBalancerProps {
  readonly name: string;
  readonly accessLogBucketName: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
  readonly servicePort: number;
  readonly healthCheckPath: string;
  readonly settings: EnvironmentConfig["loadBalancer"];
  /** Instances registered when the load balancer is created; CodeDeploy owns registrations afterwards. */
  readonly initialInstanceIds: readonly string[];
  readonly accessLogRetentionDays: number;
}

/**
 * The Classic Load Balancer in front of the live fleet. Health checks hit the service's
 * readiness path, so an instance takes traffic only once the model is loaded; connection
 * draining lets in-flight predictions finish when CodeDeploy deregisters an instance.
 */
export class LoadBalancer extends Construct {
  public readonly elb: Elb;
  public readonly accessLogs: PrivateBucket;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    // The regional ELB account that writes access logs: a static per-region table in the provider, no AWS call.
    const elbAccount = new DataAwsElbServiceAccount(this, "elb-account", {});
    this.accessLogs = new PrivateBucket(this, "access-logs", {
      bucketName: props.accessLogBucketName,
      versioned: false,
      expireAfterDays: props.accessLogRetentionDays,
      extraPolicyStatements: (bucketArn) => [
        {
          sid: "ElbWritesAccessLogs",
          effect: "Allow",
          actions: ["s3:PutObject"],
          principals: [{ type: "AWS", identifiers: [elbAccount.arn] }],
          resources: [`${bucketArn}/AWSLogs/*`],
        },
      ],
    });

    const { settings } = props;
    const listener = [
      { lbPort: 80, lbProtocol: "HTTP", instancePort: props.servicePort, instanceProtocol: "HTTP" },
      ...(settings.certificateArn ? [{ lbPort: 443, lbProtocol: "HTTPS", instancePort: props.servicePort, instanceProtocol: "HTTP", sslCertificateId: settings.certificateArn }] : []),
    ];
    this.elb = new Elb(this, "elb", {
      name: props.name,
      subnets: [...props.subnetIds],
      securityGroups: [props.securityGroupId],
      listener,
      healthCheck: {
        target: `HTTP:${props.servicePort}${props.healthCheckPath}`,
        interval: settings.healthCheck.intervalSeconds,
        timeout: settings.healthCheck.timeoutSeconds,
        healthyThreshold: settings.healthCheck.healthyThreshold,
        unhealthyThreshold: settings.healthCheck.unhealthyThreshold,
      },
      crossZoneLoadBalancing: true,
      connectionDraining: true,
      connectionDrainingTimeout: settings.connectionDrainingSeconds,
      idleTimeout: settings.idleTimeoutSeconds,
      desyncMitigationMode: "strictest",
      accessLogs: { bucket: this.accessLogs.bucket.bucket, interval: settings.accessLogIntervalMinutes, enabled: true },
      instances: [...props.initialInstanceIds],
      tags: { Name: props.name },
      dependsOn: [this.accessLogs.policy],
      // CodeDeploy registers and deregisters instances during every release: a plan must not undo that.
      lifecycle: { ignoreChanges: ["instances"] },
    });
  }
}
