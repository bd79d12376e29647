/** Record shapes shared by the committed dev sets and the training generators. */

export type EvalSplit = "dev" | "test";
export type Split = "train" | EvalSplit;

/** One multi-document QA item; the harness scores SQuAD-normalised `answer` ⊂ the model's greedy answer. */
export interface QaRecord {
  id: string;
  dataset: "synthetic" | "wiki";
  split: EvalSplit;
  kind: string;
  documents: string[];
  question: string;
  /** Gold aliases; any one counts. */
  answer: string[];
  /** Indices into `documents` of the gold documents. */
  gold: number[];
}

/** A training item: a QaRecord from the train pools plus a short natural reply containing the answer. */
export interface TrainingRecord extends Omit<QaRecord, "split"> {
  split: "train";
  response: string;
}

export interface Article {
  title: string;
  extract: string;
  description: string;
  topic: string;
}
