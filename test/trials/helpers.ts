// Shared by the trial suites.
import { eventually, type TestGateway } from '../helpers/gateway.js';
import { must } from '../calls/setup.js';

export async function waitTrial(gw: TestGateway, key: string, id: string, timeoutMs = 30_000): Promise<any> {
  return eventually(
    async () => {
      const r = must(await gw.req('GET', `/v1/trials/${id}`, { key }), 200, 'get trial');
      return r.body.status === 'completed' ? r.body : null;
    },
    timeoutMs,
    `trial ${id} to complete`,
  );
}

