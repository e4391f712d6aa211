import { Readable } from "node:stream";
import { GetDeploymentGroupCommand } from "@aws-sdk/client-codedeploy";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { ConfiguredRetryStrategy, StandardRetryStrategy } from "@smithy/core/retry";
import { describe, expect, it } from "vitest";
import { aws, createClients, RETRY_ATTEMPTS, RetryableError } from "./aws.js";

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
}

/**
 * An HTTP layer under the real SDK clients: every request goes through the SDK's whole
 * middleware stack (serialisation, signing, the retry strategy, error parsing) and gets the next
 * canned HTTP response. aws-sdk-client-mock cannot do this: it replaces `send` and skips retries.
 */
function awsOverHttp(replies: Reply[]) {
  const requests: { attempt: string | undefined }[] = [];
  const requestHandler = {
    handle: async (request: { headers: Record<string, string> }) => {
      requests.push({ attempt: request.headers["amz-sdk-request"] });
      const reply = replies[Math.min(requests.length - 1, replies.length - 1)]!;
      return {
        response: {
          statusCode: reply.status,
          reason: "",
          headers: { "content-type": reply.contentType ?? "application/x-amz-json-1.1", "x-amzn-requestid": `req-${requests.length}` },
          body: Readable.from([Buffer.from(reply.body)]),
        },
      };
    },
  };
  const clients = createClients({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-secret" },
    // The standard strategy's classification with no backoff delay, so that the tests run fast.
    retryStrategy: new ConfiguredRetryStrategy(RETRY_ATTEMPTS, 0),
    requestHandler: requestHandler as never,
  });
  return { clients, requests };
}

const json = (type: string, message: string) => JSON.stringify({ __type: type, message });
const GROUP = { deploymentGroupInfo: { deploymentGroupName: "mpg-model-staging", deploymentStyle: { deploymentType: "IN_PLACE" } } };
const getGroup = (clients: ReturnType<typeof createClients>) =>
  aws("codedeploy:GetDeploymentGroup", "deployment group mpg-model-staging", () =>
    clients.codedeploy.send(new GetDeploymentGroupCommand({ applicationName: "mpg-model-staging", deploymentGroupName: "mpg-model-staging" })),
  );

describe("AWS calls through the SDK's retry strategy", () => {
  it("builds every client with the SDK's standard retry strategy and six attempts", async () => {
    for (const client of Object.values(createClients({ region: "eu-west-1" }))) {
      const strategy = await client.config.retryStrategy();
      expect(strategy).toBeInstanceOf(StandardRetryStrategy);
      expect(strategy.mode).toBe("standard");
      expect(await (strategy as StandardRetryStrategy).maxAttempts()).toBe(6);
    }
  });

  it("retries throttling (ThrottlingException, HTTP 429) and succeeds", async () => {
    const { clients, requests } = awsOverHttp([
      { status: 400, body: json("ThrottlingException", "Rate exceeded") },
      { status: 429, body: json("TooManyRequestsException", "slow down") },
      { status: 200, body: JSON.stringify(GROUP) },
    ]);
    const result = await getGroup(clients);
    expect(result.deploymentGroupInfo?.deploymentGroupName).toBe("mpg-model-staging");
    expect(requests.map((r) => r.attempt)).toEqual(["attempt=1; max=6", "attempt=2; max=6", "attempt=3; max=6"]);
  });

  it("retries a service that is unavailable (HTTP 503)", async () => {
    const { clients, requests } = awsOverHttp([
      { status: 503, body: json("ServiceUnavailableException", "try later") },
      { status: 200, body: JSON.stringify(GROUP) },
    ]);
    await expect(getGroup(clients)).resolves.toMatchObject(GROUP);
    expect(requests).toHaveLength(2);
  });

  it("retries EC2's RequestLimitExceeded (query protocol, XML errors)", async () => {
    const { clients, requests } = awsOverHttp([
      {
        status: 503,
        contentType: "text/xml",
        body: "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>",
      },
      {
        status: 200,
        contentType: "text/xml",
        body: '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><reservationSet/></DescribeInstancesResponse>',
      },
    ]);
    const result = await aws("ec2:DescribeInstances", "i-1", () => clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ["i-1"] })));
    expect(result.Reservations ?? []).toEqual([]);
    expect(requests).toHaveLength(2);
  });

  it("does not retry access denied, and names the action the role needs", async () => {
    const { clients, requests } = awsOverHttp([{ status: 400, body: json("AccessDeniedException", "User is not authorized to perform codedeploy:GetDeploymentGroup") }]);
    await expect(getGroup(clients)).rejects.toThrow(/^access denied: codedeploy:GetDeploymentGroup on deployment group mpg-model-staging \(AccessDeniedException\)\. The caller's role needs/);
    expect(requests).toHaveLength(1);
  });

  it("gives up after six attempts of throttling with a retryable error that says so", async () => {
    const { clients, requests } = awsOverHttp([{ status: 400, body: json("ThrottlingException", "Rate exceeded") }]);
    const error = await getGroup(clients).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toBe(
      "AWS kept refusing codedeploy:GetDeploymentGroup on deployment group mpg-model-staging after 6 attempts (ThrottlingException: throttled or unavailable); try again in a minute.",
    );
    expect(requests).toHaveLength(6);
  });
});
