/* placeholder: being written */
typedef int co_placeholder_unit;
