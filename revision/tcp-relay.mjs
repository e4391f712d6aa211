#!/usr/bin/env node
// ssh's ProxyCommand for a local instance: relays stdin/stdout to HOST:PORT, as
// `aws ec2-instance-connect open-tunnel` relays to an instance's port 22. Run inside the
// instance's network namespace (nsenter --target PID --net -- node tcp-relay.mjs 127.0.0.1 22)
// it reaches that instance's own sshd. Usage: node tcp-relay.mjs HOST PORT
import { connect } from "node:net";

const [host, port] = process.argv.slice(2);
if (!host || !/^\d+$/.test(port ?? "")) {
  process.stderr.write("usage: node tcp-relay.mjs HOST PORT\n");
  process.exit(2);
}
const socket = connect(Number(port), host);
socket.on("error", (error) => {
  process.stderr.write(`tcp-relay: ${host}:${port}: ${error.message}\n`);
  process.exit(1);
});
process.stdin.pipe(socket);
socket.pipe(process.stdout);
socket.on("close", () => process.exit(0));
