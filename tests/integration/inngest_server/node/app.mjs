// Functions written with Inngest's official TypeScript SDK, served on node:http for bakeoff's tests.
// The SDK finds the server through INNGEST_DEV (dev mode); APP_ID names the app, PORT the port.
import http from "node:http";
import { Inngest, NonRetriableError } from "inngest";
import { serve } from "inngest/node";

const appId = process.env.APP_ID;
const inngest = new Inngest({ id: appId });

const steps = inngest.createFunction(
  { id: "steps", retries: 1 },
  { event: `${appId}/steps` },
  async ({ event, step, attempt }) => {
    const a = await step.run("a", () => event.data.n + 1);
    await step.sleep("nap", "1s");
    const b = await step.run("b", () => {
      if (attempt === 0) throw new Error("first attempt of b fails");
      return a * 10;
    });
    return { a, b };
  },
);

const waiter = inngest.createFunction(
  { id: "waiter" },
  { event: `${appId}/wait` },
  async ({ step }) => {
    const got = await step.waitForEvent("approval", {
      event: `${appId}/approved`,
      timeout: "10s",
      if: "async.data.id == event.data.id",
    });
    const none = await step.waitForEvent("never", { event: `${appId}/never`, timeout: "1s" });
    return { by: got ? got.data.by : null, none };
  },
);

const child = inngest.createFunction(
  { id: "child" },
  { event: `${appId}/child` },
  async ({ event }) => event.data.n * 2,
);

const parent = inngest.createFunction(
  { id: "parent" },
  { event: `${appId}/parent` },
  async ({ step }) => {
    const doubled = await step.invoke("call-child", { function: child, data: { n: 21 } });
    const results = await Promise.all(["x", "y", "z"].map((name) => step.run(name, () => name.toUpperCase())));
    return { doubled, results };
  },
);

const fatal = inngest.createFunction(
  { id: "fatal", retries: 3 },
  { event: `${appId}/fatal` },
  async ({ step }) => {
    await step.run("give-up", () => {
      throw new NonRetriableError("no point retrying");
    });
    return "unreachable";
  },
);

const sender = inngest.createFunction(
  { id: "sender" },
  { event: `${appId}/send` },
  async ({ event, step }) => {
    const sent = await step.run("send", () =>
      inngest.send({ name: `${appId}/received`, data: { from: event.data.tag } }),
    );
    return sent.ids.length;
  },
);

const received = inngest.createFunction(
  { id: "received" },
  { event: `${appId}/received` },
  async ({ event }) => `received from ${event.data.from}`,
);

const server = http.createServer(
  serve({ client: inngest, functions: [steps, waiter, child, parent, fatal, sender, received] }),
);
server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${process.env.PORT}`);
});
