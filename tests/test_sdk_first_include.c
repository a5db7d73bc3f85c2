#include <flowring/flowring.h>
/* Description: the SDK header compiles as the first and only include of a C11 -pedantic file. */
int fr_test_first_include_anchor(void);
int fr_test_first_include_anchor(void)
{
	return fr_name_valid("-1");
}
