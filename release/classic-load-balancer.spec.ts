import { DeregisterInstancesFromLoadBalancerCommand, DescribeInstanceHealthCommand, RegisterInstancesWithLoadBalancerCommand } from "@aws-sdk/client-elastic-load-balancing";
import { beforeEach, describe, expect, it } from "vitest";
import { ClassicLoadBalancer } from "./classic-load-balancer.js";
import { chooseReplacementSlot, readLiveFleet } from "./slots.js";
import { clients, fakeFleet, mockAws, type AwsMocks } from "./testing.js";

const LB = "mpg-model-staging";
let mocks: AwsMocks;
beforeEach(() => {
  mocks = mockAws();
});

describe("ClassicLoadBalancer", () => {
  it("reports registered instances with the slot and environment of their EC2 tags and, when asked, the CLB's health", async () => {
    fakeFleet(
      mocks,
      LB,
      [
        { id: "i-g1", environment: "staging", slot: "green" },
        { id: "i-b1", environment: "staging", slot: "blue" },
      ],
      ["i-g1"],
    );
    mocks.elb.on(DescribeInstanceHealthCommand).resolves({ InstanceStates: [{ InstanceId: "i-g1", State: "OutOfService" }] });
    const lb = new ClassicLoadBalancer(clients(), LB);
    expect(await lb.registeredInstances({ withHealth: true })).toEqual([{ instanceId: "i-g1", slot: "green", environment: "staging", state: "running", health: "OutOfService" }]);
  });

  it("registers and deregisters through Register/DeregisterInstancesWithLoadBalancer naming the load balancer", async () => {
    mocks.elb.on(RegisterInstancesWithLoadBalancerCommand).resolves({});
    mocks.elb.on(DeregisterInstancesFromLoadBalancerCommand).resolves({});
    const lb = new ClassicLoadBalancer(clients(), LB);
    await lb.register(["i-g1", "i-g2"]);
    await lb.deregister(["i-b1"]);
    expect(mocks.elb.commandCalls(RegisterInstancesWithLoadBalancerCommand)[0]!.args[0].input).toEqual({ LoadBalancerName: LB, Instances: [{ InstanceId: "i-g1" }, { InstanceId: "i-g2" }] });
    expect(mocks.elb.commandCalls(DeregisterInstancesFromLoadBalancerCommand)[0]!.args[0].input).toEqual({ LoadBalancerName: LB, Instances: [{ InstanceId: "i-b1" }] });
  });

  it("says which load balancer is missing", async () => {
    fakeFleet(mocks, "another", [], []);
    await expect(new ClassicLoadBalancer(clients(), LB).registeredInstances()).rejects.toThrow(
      /load balancer not found for elasticloadbalancing:DescribeLoadBalancers on load balancer mpg-model-staging/,
    );
  });
});

describe("the live-slot rule through the Classic Load Balancer", () => {
  it("replaces the slot that is not registered", async () => {
    fakeFleet(
      mocks,
      LB,
      [
        { id: "i-g1", environment: "staging", slot: "green" },
        { id: "i-b1", environment: "staging", slot: "blue" },
      ],
      ["i-g1"],
    );
    expect(await chooseReplacementSlot(new ClassicLoadBalancer(clients(), LB), "staging")).toEqual({ liveSlot: "green", replacementSlot: "blue" });
  });

  it("with nothing registered replaces the other slot than the one the group names", async () => {
    fakeFleet(mocks, LB, [], []);
    const lb = new ClassicLoadBalancer(clients(), LB);
    expect(await chooseReplacementSlot(lb, "staging")).toEqual({ liveSlot: undefined, replacementSlot: "green" });
    expect(await chooseReplacementSlot(lb, "staging", "green")).toEqual({ liveSlot: undefined, replacementSlot: "blue" });
  });

  it("refuses an instance of another environment and an instance without a slot tag", async () => {
    fakeFleet(mocks, LB, [{ id: "i-p1", environment: "prod", slot: "blue" }], ["i-p1"]);
    await expect(readLiveFleet(new ClassicLoadBalancer(clients(), LB), "staging")).rejects.toThrow(/not tagged Environment=staging: i-p1 \(prod\)/);
    mocks = mockAws();
    fakeFleet(mocks, LB, [{ id: "i-x", environment: "staging" }], ["i-x"]);
    await expect(readLiveFleet(new ClassicLoadBalancer(clients(), LB), "staging")).rejects.toThrow(/without a valid DeploymentSlot tag \(blue\|green\): i-x/);
  });
});
