/** The fake Aspose every throughput bench runs against, and a real token from it. */
import { FakeAspose } from "../../dev/fake-aspose.js";
import { HIT_ID, MISS_ID, SECRET, TOKEN_PATH } from "../settings.js";
import { post } from "./http-client.js";
import { upstreamFormBody } from "./operations.js";

/**
 * Starts the fake with the bench's two clients and asks it for one token, which the constant
 * baselines answer with (the same size as the service's). Its counters are reset afterwards.
 */
export async function startBenchUpstream(): Promise<{ fake: FakeAspose; token: string }> {
  const fake = await FakeAspose.start({ clients: { [HIT_ID]: SECRET, [MISS_ID]: SECRET } });
  try {
    const issued = await post(
      `${fake.url}${TOKEN_PATH}`,
      upstreamFormBody(HIT_ID, SECRET),
      false,
      "application/x-www-form-urlencoded",
    );
    const token = (JSON.parse(issued.body) as { access_token: string }).access_token;
    fake.resetCounters();
    return { fake, token };
  } catch (error) {
    await fake.close();
    throw error;
  }
}
