// Runs the README's OpenFeature snippet (flags.ts, written next to this file by the test) for each key.
const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const { importArm } = await import("./flags.ts");
const arms = {};
for (const key of input.keys) arms[key] = await importArm(key);
const { OpenFeature } = await import("@openfeature/server-sdk");
await OpenFeature.close();
process.stdout.write(JSON.stringify(arms));
