for i in $(seq 1 30); do echo "line $i"; done
echo "boom: missing asset" >&2
exit 3
