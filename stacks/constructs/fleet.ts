import { Instance } from "@cdktf/provider-aws/lib/instance/index.js";
import type { Subnet } from "@cdktf/provider-aws/lib/subnet/index.js";
import { Construct } from "constructs";
import { ENVIRONMENT_TAG_KEY, SLOT_TAG_KEY, type Slot } from "../../environments/names.js";

export interface FleetProps {
  readonly name: string;
  readonly environment: string;
  /** Deployment slots to create: one for in-place, blue and green for blue/green. */
  readonly slots: readonly Slot[];
  readonly instancesPerSlot: number;
  readonly instanceType: string;
  readonly amiId: string;
  readonly rootVolumeGiB: number;
  readonly keyPairName?: string;
  /** Private subnets, one per zone: instances of each slot are spread over all of them. */
  readonly subnets: readonly Subnet[];
  readonly securityGroupIds: readonly string[];
  readonly instanceProfileName: string;
  readonly userData: string;
}

/**
 * The EC2 instances of each deployment slot, tagged with their environment and slot so that
 * CodeDeploy (and the release tools) can tell the live fleet from the replacement.
 */
export class Fleet extends Construct {
  /** Instances by slot. */
  public readonly instances: Record<Slot, Instance[]>;

  constructor(scope: Construct, id: string, props: FleetProps) {
    super(scope, id);
    this.instances = { blue: [], green: [] };
    for (const slot of props.slots) {
      for (let i = 0; i < props.instancesPerSlot; i++) {
        const subnet = props.subnets[i % props.subnets.length]!;
        this.instances[slot].push(
          new Instance(this, `${slot}-${i}`, {
            ami: props.amiId,
            instanceType: props.instanceType,
            subnetId: subnet.id,
            vpcSecurityGroupIds: [...props.securityGroupIds],
            iamInstanceProfile: props.instanceProfileName,
            keyName: props.keyPairName,
            associatePublicIpAddress: false,
            userData: props.userData,
            userDataReplaceOnChange: false,
            monitoring: true,
            // IMDSv2 only, and one hop: a container on the host cannot reach the role's credentials.
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
            rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: props.rootVolumeGiB, deleteOnTermination: true },
            creditSpecification: props.instanceType.startsWith("t") ? { cpuCredits: "standard" } : undefined,
            tags: { Name: `${props.name}-${slot}-${i}`, [ENVIRONMENT_TAG_KEY]: props.environment, [SLOT_TAG_KEY]: slot },
          }),
        );
      }
    }
  }
}
