// Evaluates the experiment's flag for many targeting keys through the real OpenFeature server SDK and
// its OFREP provider, and prints what the SDK resolved (stdin: {baseUrl, flag, keys, token?}).
import { OpenFeature } from "@openfeature/server-sdk";
import { OFREPProvider } from "@openfeature/ofrep-provider";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const headers = input.token ? { Authorization: `Bearer ${input.token}` } : undefined;
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: input.baseUrl, headers }));
const client = OpenFeature.getClient();

const evaluations = [];
for (const key of input.keys) {
  const details = await client.getStringDetails(input.flag, "default", { targetingKey: key });
  evaluations.push({ key, value: details.value, variant: details.variant, reason: details.reason,
    errorCode: details.errorCode ?? null, metadata: details.flagMetadata });
}
const missingFlag = await client.getStringDetails("no-such-flag", "default", { targetingKey: "u" });
const missingKey = await client.getStringDetails(input.flag, "default", {});
await OpenFeature.close();
process.stdout.write(JSON.stringify({
  evaluations,
  missingFlag: { value: missingFlag.value, errorCode: missingFlag.errorCode, reason: missingFlag.reason },
  missingKey: { value: missingKey.value, errorCode: missingKey.errorCode, reason: missingKey.reason },
}));
