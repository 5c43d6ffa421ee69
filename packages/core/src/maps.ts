/** A map or weak map: what `entry` reads and fills. */
interface KeyedStore<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
}

/**
 * The value `table` holds for `key`, made by `make` and stored on first use: the one
 * get-or-create the caches of every package share.
 */
export function entry<K, V>(table: KeyedStore<K, V>, key: K, make: () => V): V {
  let value = table.get(key);
  if (value === undefined) {
    value = make();
    table.set(key, value);
  }
  return value;
}
