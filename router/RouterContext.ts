/** What the router knows of one caller, for every operation it plans and forwards. */
export interface RouterContext {
  /** The caller's Authorization header, already verified, passed on to subgraphs. */
  authorization: string | undefined;
  userId: string | undefined;
  clientAddress: string;
  /** The request's Content-Length, where the client sent one (an upload's file is no larger). */
  requestBytes?: number;
}
