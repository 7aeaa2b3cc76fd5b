/**
 * What a settings form says back: a notice (a `status` line, always there, so screen readers
 * hear what is put in it) and, when something went wrong, a problem (an `alert`).
 */
export function StatusLines(props: { notice: string | undefined; problem: string | undefined }) {
  const { notice, problem } = props;
  return (
    <>
      <p class="notice" role="status">
        {notice}
      </p>
      {problem && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
    </>
  );
}
