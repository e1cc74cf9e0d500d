// A two-step function written with Inngest's official TypeScript SDK v4, on node:http.
// v4 checkpoints steps by default; bakeoff inngest serve refuses checkpointing, so the SDK
// falls back to reporting each step in a 206 answer.
import http from "node:http";
import { Inngest } from "inngest";
import { serve } from "inngest/node";

const appId = process.env.APP_ID;
const inngest = new Inngest({ id: appId });

const twoSteps = inngest.createFunction(
  { id: "two-steps", triggers: [{ event: `${appId}/two` }] },
  async ({ event, step }) => {
    const first = await step.run("first", () => event.data.n + 1);
    const second = await step.run("second", () => first * 2);
    return { first, second };
  },
);

http
  .createServer(serve({ client: inngest, functions: [twoSteps] }))
  .listen(Number(process.env.PORT), "127.0.0.1");
