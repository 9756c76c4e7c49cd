// A name for a service created without --name, in docker's "adjective_scientist" style
// ("eloquent_hopper"), as docker's daemon makes one: the manager requires a name.

const ADJECTIVES = [
  "admiring", "brave", "clever", "dazzling", "eager", "elegant", "eloquent", "festive", "gallant", "happy",
  "inspiring", "jolly", "keen", "loving", "modest", "nifty", "optimistic", "peaceful", "quirky", "relaxed",
  "serene", "stoic", "tender", "upbeat", "vibrant", "wizardly", "xenodochial", "youthful", "zealous", "zen",
];

const SCIENTISTS = [
  "albattani", "babbage", "curie", "darwin", "einstein", "feynman", "galileo", "hopper", "hypatia", "johnson",
  "kepler", "lamarr", "lovelace", "meitner", "newton", "noether", "pasteur", "raman", "ritchie", "shannon",
  "tesla", "thompson", "turing", "vaughan", "wescoff", "wilson", "wu", "yalow", "yonath", "zhukovsky",
];

/** "eloquent_hopper"; `random` returns numbers in [0, 1) (Math.random, or a seeded source in tests). */
export function randomServiceName(random: () => number): string {
  const pick = (words: readonly string[]) => words[Math.floor(random() * words.length)]!;
  return `${pick(ADJECTIVES)}_${pick(SCIENTISTS)}`;
}
