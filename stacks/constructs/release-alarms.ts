import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments/index.js";

export interface ReleaseAlarmsProps {
  readonly name: string;
  readonly loadBalancerName: string;
  readonly thresholds: EnvironmentConfig["alarms"];
}

/**
 * The signals that make CodeDeploy roll a release back: the service answering 5xx, the load
 * balancer failing requests itself (no healthy backend), and unhealthy instances in service.
 */
export class ReleaseAlarms extends Construct {
  public readonly alarms: CloudwatchMetricAlarm[];

  constructor(scope: Construct, id: string, props: ReleaseAlarmsProps) {
    super(scope, id);
    const { thresholds } = props;
    const alarm = (suffix: string, metricName: string, statistic: string, threshold: number, description: string) =>
      new CloudwatchMetricAlarm(this, suffix, {
        alarmName: `${props.name}-${suffix}`,
        alarmDescription: description,
        namespace: "AWS/ELB",
        metricName,
        dimensions: { LoadBalancerName: props.loadBalancerName },
        statistic,
        period: 60,
        evaluationPeriods: thresholds.evaluationMinutes,
        datapointsToAlarm: thresholds.evaluationMinutes,
        threshold,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        // No traffic is not a failure: an idle environment must not block its own releases.
        treatMissingData: "notBreaching",
      });
    this.alarms = [
      alarm("backend-5xx", "HTTPCode_Backend_5XX", "Sum", thresholds.http5xxPerMinute, "The model service answers 5xx: roll the release back"),
      alarm("elb-5xx", "HTTPCode_ELB_5XX", "Sum", thresholds.http5xxPerMinute, "The load balancer fails requests itself (no healthy instance): roll the release back"),
      alarm("unhealthy-hosts", "UnHealthyHostCount", "Maximum", thresholds.unhealthyHosts, "Instances behind the load balancer fail the readiness check: roll the release back"),
    ];
  }
}
