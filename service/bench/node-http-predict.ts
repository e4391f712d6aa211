/**
 * Reference for the HTTP-layer choice (bench only, not shipped): the same
 * model and dynamic batching behind bare node:http, with only a JSON.parse and
 * no validation, metrics, ids or error handling - an upper bound on what
 * replacing fastify could gain. Usage: node --import tsx node-http-predict.ts PORT
 */
import { createServer } from "node:http";
import { Batcher } from "../src/batcher.js";
import { Model, type Instance } from "../src/model.js";

const port = Number(process.argv[2]);
const model = await Model.load(new URL("../model", import.meta.url).pathname);
const batcher = new Batcher(model);
const ref = { name: model.manifest.name, version: model.manifest.version };

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const { instances } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { instances: Instance[] };
    batcher.predict(model.encode(instances), instances.length).then((out) => {
      const body = JSON.stringify({ predictions: Array.from(out), model: ref });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
}).listen(port, "127.0.0.1");
