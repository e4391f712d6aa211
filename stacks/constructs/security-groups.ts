import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group/index.js";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js";
import { Construct } from "constructs";

export interface SecurityGroupsProps {
  readonly name: string;
  readonly vpcId: string;
  /** Ports the load balancer listens on (80, and 443 with a certificate). */
  readonly listenerPorts: readonly number[];
  readonly servicePort: number;
  /** The service's /metrics port: never forwarded by the load balancer, scraped from inside the VPC. */
  readonly metricsPort: number;
  /** Who may scrape the metrics port: the VPC's own CIDR (a Prometheus inside it). */
  readonly metricsCidrs: readonly string[];
  readonly loadBalancerCidrs: readonly string[];
  readonly sshCidrs: readonly string[];
}

/** A rule's peer: an IPv4 or IPv6 CIDR, or another security group. */
type Peer = { cidr: string } | { group: SecurityGroup };

function peerOf(peer: Peer) {
  if ("group" in peer) return { referencedSecurityGroupId: peer.group.id };
  return peer.cidr.includes(":") ? { cidrIpv6: peer.cidr } : { cidrIpv4: peer.cidr };
}

/**
 * Two groups and nothing implicit: the load balancer accepts only its listeners from the
 * allowed CIDRs and talks only to the instances' service port; the instances accept the
 * service port only from the load balancer, the metrics port only from inside the VPC and SSH
 * only from the admin CIDRs, and reach out
 * only over HTTP(S) (package mirrors, Node.js, the CodeDeploy agent and endpoints).
 */
export class SecurityGroups extends Construct {
  public readonly loadBalancer: SecurityGroup;
  public readonly instances: SecurityGroup;

  constructor(scope: Construct, id: string, props: SecurityGroupsProps) {
    super(scope, id);
    // Inline rules stay empty: every rule is its own resource below, with its own description.
    this.loadBalancer = new SecurityGroup(this, "load-balancer", {
      name: `${props.name}-load-balancer`,
      description: `Load balancer of ${props.name}: listeners from allowed clients, service port to the instances`,
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-load-balancer` },
    });
    this.instances = new SecurityGroup(this, "instances", {
      name: `${props.name}-instances`,
      description: `Model service instances of ${props.name}: service port from the load balancer, SSH from admins`,
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-instances` },
    });

    for (const port of props.listenerPorts) {
      props.loadBalancerCidrs.forEach((cidr, i) =>
        this.ingress(this.loadBalancer, `load-balancer-listener-${port}-${i}`, port, { cidr }, `Clients ${cidr} to the ${port === 443 ? "HTTPS" : "HTTP"} listener`),
      );
    }
    this.egress(this.loadBalancer, "load-balancer-to-instances", props.servicePort, { group: this.instances }, "Forward requests and health checks to the model service");

    this.ingress(this.instances, "instances-from-load-balancer", props.servicePort, { group: this.loadBalancer }, "Model service traffic and health checks from the load balancer");
    props.metricsCidrs.forEach((cidr, i) => this.ingress(this.instances, `instances-metrics-${i}`, props.metricsPort, { cidr }, `Prometheus scrapes of /metrics from inside the VPC (${cidr})`));
    props.sshCidrs.forEach((cidr, i) => this.ingress(this.instances, `instances-ssh-${i}`, 22, { cidr }, `SSH from admin network ${cidr}`));
    this.egress(this.instances, "instances-https-out", 443, { cidr: "0.0.0.0/0" }, "HTTPS to AWS APIs, S3, the CodeDeploy agent bucket and Node.js downloads");
    this.egress(this.instances, "instances-http-out", 80, { cidr: "0.0.0.0/0" }, "HTTP to the distribution's package mirrors (apt verifies signatures)");
  }

  private ingress(group: SecurityGroup, id: string, port: number, peer: Peer, description: string): void {
    new VpcSecurityGroupIngressRule(this, id, { securityGroupId: group.id, ipProtocol: "tcp", fromPort: port, toPort: port, description, ...peerOf(peer) });
  }

  private egress(group: SecurityGroup, id: string, port: number, peer: Peer, description: string): void {
    new VpcSecurityGroupEgressRule(this, id, { securityGroupId: group.id, ipProtocol: "tcp", fromPort: port, toPort: port, description, ...peerOf(peer) });
  }
}
