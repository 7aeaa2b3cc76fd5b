/** One mail as Mailpit received it, read through its HTTP API. */
export interface ReceivedMail {
  id: string;
  subject: string;
  from: string;
  to: string[];
  text: string;
  html: string;
  /** Every header as sent, by its canonical name (`List-Unsubscribe`), each with its values. */
  headers: Record<string, string[]>;
}

interface MailpitAddress {
  Address: string;
}

interface MailpitSummary {
  ID: string;
  To: MailpitAddress[] | null;
}

interface MailpitMessage {
  ID: string;
  Subject: string;
  From: MailpitAddress | null;
  To: MailpitAddress[] | null;
  Text: string;
  HTML: string;
}

/**
 * The newest mail to `to` in the Mailpit at `webUrl`, polled until one arrives (rejects after
 * `timeoutMs`). Give each test an address of its own (uniqueName): Mailpit keeps the mail of
 * earlier runs, and this returns whatever is newest for the address.
 */
export async function readMail(
  webUrl: string,
  to: string,
  options: { timeoutMs?: number } = {},
): Promise<ReceivedMail> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const id = await newestTo(webUrl, to);
    if (id !== undefined) return await readMessage(webUrl, id);
    if (Date.now() > deadline) {
      throw new Error(`no mail to ${to} reached Mailpit at ${webUrl} in time`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function newestTo(webUrl: string, to: string): Promise<string | undefined> {
  // Mailpit's `to:` matches any part of an address, and lists the newest first.
  const query = new URLSearchParams({ query: `to:"${to}"`, limit: '50' });
  const { messages } = await getJson<{ messages: MailpitSummary[] }>(
    `${webUrl}/api/v1/search?${query.toString()}`,
  );
  const wanted = to.toLowerCase();
  return messages.find((message) =>
    (message.To ?? []).some((address) => address.Address.toLowerCase() === wanted),
  )?.ID;
}

async function readMessage(webUrl: string, id: string): Promise<ReceivedMail> {
  const [message, headers] = await Promise.all([
    getJson<MailpitMessage>(`${webUrl}/api/v1/message/${encodeURIComponent(id)}`),
    getJson<Record<string, string[]>>(`${webUrl}/api/v1/message/${encodeURIComponent(id)}/headers`),
  ]);
  return {
    id: message.ID,
    subject: message.Subject,
    from: message.From?.Address ?? '',
    to: (message.To ?? []).map((address) => address.Address),
    text: message.Text,
    html: message.HTML,
    headers,
  };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}
