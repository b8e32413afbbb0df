// What a frontend does with the generated types: a typed openapi-fetch client, run by the e2e
// test against a real server, so a contract the generator or the compiler chokes on fails CI.
// Usage: node dist/client.js <base-url>; prints a one-line JSON summary, exits 1 on any mismatch.

import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema.js";

type CreateMeetingRequest = components["schemas"]["CreateMeetingRequest"];
type ErrorResponse = components["schemas"]["ErrorResponse"];

function fail(message: string): never {
  console.error(`typescript client: ${message}`);
  process.exit(1);
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) fail(message);
}

/** The response's status and body, for failure messages. */
function shown(response: Response, body: unknown): string {
  return `${response.status} ${JSON.stringify(body)}`;
}

/** An error and its causes, one line (fetch's own message alone says only "fetch failed"). */
function describe(thrown: unknown): string {
  if (!(thrown instanceof Error)) return String(thrown);
  return thrown.cause === undefined ? thrown.message : `${thrown.message}: ${describe(thrown.cause)}`;
}

async function main(baseUrl: string) {
  const anonymous = createClient<paths>({ baseUrl });
  const email = `ts-client-${randomUUID()}@example.com`;
  const registered = await anonymous.POST("/api/v1/auth/register", {
    body: { email, password: "typed client password", name: "TypeScript Client" },
  });
  check(registered.response.status === 201 && registered.data !== undefined, `register: ${shown(registered.response, registered.error)}`);
  const { user, tokens } = registered.data;
  check(user.email === email, `register: user.email is ${user.email}, sent ${email}`);

  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${tokens.access_token}` } });
  // No team: the contract makes `team_id` optional, and a meeting belongs to its creator.
  const wanted = {
    title: "Typed client check",
    description: "Created by tests/typescript/client.ts",
    scheduled_at: "2031-05-06T07:08:09Z",
    auto_record: false,
  } satisfies CreateMeetingRequest;
  const created = await client.POST("/api/v1/meetings", { body: wanted });
  check(created.response.status === 201 && created.data !== undefined, `create meeting: ${shown(created.response, created.error)}`);
  const meeting = created.data;
  check(meeting.title === wanted.title, `created title is ${JSON.stringify(meeting.title)}`);
  check(meeting.description === wanted.description, `created description is ${JSON.stringify(meeting.description)}`);
  check(meeting.auto_record === wanted.auto_record, `created auto_record is ${meeting.auto_record}`);
  // Equal instants, whatever offset notation the server writes.
  check(Date.parse(meeting.scheduled_at ?? "") === Date.parse(wanted.scheduled_at), `created scheduled_at is ${meeting.scheduled_at}`);
  check(meeting.status === "scheduled", `created status is ${meeting.status}`);
  check(meeting.creator.id === user.id, `created creator is ${meeting.creator.id}, not ${user.id}`);

  const read = await client.GET("/api/v1/meetings/{meeting_id}", { params: { path: { meeting_id: meeting.id } } });
  check(read.response.status === 200 && read.data !== undefined, `get meeting: ${shown(read.response, read.error)}`);
  check(isDeepStrictEqual(read.data, meeting), `get meeting differs from create: ${JSON.stringify(read.data)} vs ${JSON.stringify(meeting)}`);

  const missing = await client.GET("/api/v1/meetings/{meeting_id}", { params: { path: { meeting_id: randomUUID() } } });
  const error: ErrorResponse | undefined = missing.error;
  check(missing.response.status === 404 && error !== undefined, `missing meeting: ${shown(missing.response, missing.data)}`);
  const contentType = missing.response.headers.get("content-type") ?? "";
  check(contentType.startsWith("application/json"), `missing meeting: content type ${contentType}`);
  const extra = Object.keys(error).filter((key) => !["error", "message", "details"].includes(key));
  check(extra.length === 0, `error body has keys outside the contract: ${extra.join(", ")}`);
  check(error.error === "not_found", `missing meeting: error code ${JSON.stringify(error.error)}, expected "not_found"`);
  check(typeof error.message === "string" && error.message.length > 0, `missing meeting: empty message in ${JSON.stringify(error)}`);
  const details: unknown = error.details;
  check(details === undefined || (typeof details === "object" && details !== null && !Array.isArray(details)), `details is not an object: ${JSON.stringify(details)}`);

  return { ok: true, user: user.id, meeting: meeting.id, missing: { status: missing.response.status, error: error.error } };
}

const baseUrl = process.argv[2];
if (baseUrl === undefined) fail("usage: node dist/client.js <base-url>");
main(baseUrl).then(
  (summary) => console.log(JSON.stringify(summary)),
  (thrown: unknown) => fail(`request failed: ${describe(thrown)}`),
);
