/**
 * RFC 4180 CSV -> records, each with the line it starts on. Hand-written (about 60 lines) because
 * no CSV parser is among the project's dependencies and one function does not justify adding one.
 * Accepts CRLF or LF line ends and quoted fields spanning lines ("" inside quotes is a quote); is
 * lenient with a quote inside an unquoted field (kept as text). A record it cannot read (text after
 * a closing quote, a quote never closed) comes back with an `error` instead of stopping the file.
 */

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  readonly line: number;
  readonly fields: string[];
  readonly error?: string;
}

export function* parseCsv(text: string): Generator<CsvRecord> {
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let i = 0;
  let line = 1;
  while (i < input.length) {
    const start = line;
    const fields: string[] = [];
    let error: string | undefined;
    // One record: fields until an unquoted line end or the end of the input.
    for (;;) {
      let field = '';
      if (input[i] === '"') {
        i++;
        let closed = false;
        while (i < input.length) {
          const c = input[i] as string;
          if (c === '"') {
            if (input[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (!closed) error ??= 'a quoted field is never closed';
        else if (i < input.length && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') {
          error ??= 'text after a closing quote';
          while (i < input.length && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') i++;
        }
      } else {
        while (i < input.length && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') {
          field += input[i];
          i++;
        }
      }
      fields.push(field);
      if (input[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (input[i] === '\r') i++;
    if (input[i] === '\n') i++;
    line++;
    // A blank line is no record (RFC 4180 has none; files often end with one).
    if (fields.length === 1 && fields[0] === '' && !error) continue;
    yield error ? { line: start, fields, error } : { line: start, fields };
  }
}
