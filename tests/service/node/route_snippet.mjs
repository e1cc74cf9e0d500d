// Calls the README's Next.js route handler (route.ts, written next to this file by the test) as Next.js
// would: with a standard Request; prints each Response's status and JSON body.
const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const { POST } = await import("./route.ts");
const results = [];
for (const call of input.calls) {
  const request = new Request("http://app.local/api/imports", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Idempotency-Key": call.idempotencyKey },
    body: JSON.stringify(call.body),
  });
  const response = await POST(request);
  results.push({ status: response.status, body: await response.json() });
}
process.stdout.write(JSON.stringify(results));
