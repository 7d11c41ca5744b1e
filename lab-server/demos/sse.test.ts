import { describe, expect, it } from 'vitest';
import { runSse } from './sse.ts';

describe('Server-Sent Events on the wire (WHATWG HTML §9.2)', () => {
  it('answers text/event-stream with id, event and data fields, each event ended by an empty line', async () => {
    const { first } = await runSse();
    expect(first.response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first.response).toMatch(/\r\nContent-Type: text\/event-stream\r\n/i);
    expect(first.response).toContain('id: 1\nevent: greeting\ndata: hello\n\n');
    expect(first.response).toContain('id: 2\ndata: first line\ndata: second line\n\n');
    expect(first.response).toContain('retry: 2000\n');
  });

  it('resumes after Last-Event-ID on a reconnection (HTML §9.2.3)', async () => {
    const { resumed } = await runSse();
    expect(resumed.request).toContain('\r\nLast-Event-ID: 2\r\n');
    expect(resumed.response).toContain('id: 3\n');
    expect(resumed.response).not.toContain('id: 1\n');
    expect(resumed.response).not.toContain('id: 2\n');
  });
});
